"""Human durations in the policy file: "15m", "1h", "5h30m", "90s", "2d"."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)\s*([dhms])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[dhms]\s*)+$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _seconds(value, value)
    if not isinstance(value, str) or not _WHOLE.match(value):
        raise ValueError(f"invalid duration {value!r}: use forms like 90s, 15m, 1h, 5h30m, 2d")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value))
    return _seconds(seconds, value)


def _seconds(seconds: float, given: object) -> timedelta:
    if seconds <= 0:
        raise ValueError(f"duration {given!r} must be longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"duration {given!r} is too long") from None


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    out = ""
    for unit, size in _UNIT_SECONDS.items():
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]
