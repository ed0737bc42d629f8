"""Readable output: aligned tables, colours only on a terminal (and never with NO_COLOR)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

SEVERITY_COLOUR = {"critical": "1;31", "high": "31", "medium": "33", "low": "36"}
STATUS_COLOUR = {"open": "1;31", "acknowledged": "33", "resolved": "32", "draft": "33", "in_review": "36",
                 "published": "32"}


def use_colour(stream=None, force_off: bool = False) -> bool:
    stream = stream or sys.stdout
    return not force_off and "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


class Painter:
    def __init__(self, colour: bool):
        self.colour = colour

    def __call__(self, text: str, code: str | None) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour and code else text

    def severity(self, value: str) -> str:
        return self(value, SEVERITY_COLOUR.get(value))

    def status(self, value: str) -> str:
        return self(value, STATUS_COLOUR.get(value))

    def bold(self, text: str) -> str:
        return self(text, "1")


def table(headers: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]], paint: Painter, max_width: int = 60
          ) -> str:
    """Rows of (plain text, painted text) cells; widths from the plain text so colours do not misalign."""
    clipped = [[(_clip(plain, max_width), painted if len(plain) <= max_width else _clip(plain, max_width))
                for plain, painted in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in clipped:
        for i, (plain, _) in enumerate(row):
            widths[i] = max(widths[i], len(plain))
    lines = ["  ".join(paint.bold(h.ljust(widths[i])) for i, h in enumerate(headers)).rstrip()]
    for row in clipped:
        lines.append("  ".join(painted + " " * (widths[i] - len(plain)) for i, (plain, painted) in enumerate(row))
                     .rstrip())
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_time(value: str | None) -> str:
    """ISO time as 'YYYY-MM-DD HH:MM' UTC."""
    if not value:
        return "-"
    return value.replace("T", " ")[:16]


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    value = int(round(value))
    if value < 120:
        return f"{value} s"
    if value < 7200:
        return f"{value // 60} min"
    return f"{value / 3600:.1f} h"
