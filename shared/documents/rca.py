"""An RCA as a Markdown document (front matter + the structured sections), ready for a docs repository."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shared.domain.rca import SECTIONS, Rca

TEMPLATES = Path(__file__).parent / "templates"
STATUS_LABEL = {"draft": "Draft", "in_review": "In review", "published": "Published"}


def rca_markdown(rca: Rca) -> str:
    return _environment().get_template("rca.md.j2").render(
        rca=rca, sections=list(SECTIONS.items()), status_label=STATUS_LABEL[rca.status.value])


def file_name(rca: Rca) -> str:
    """Sorts by date in a docs folder: 2025-09-14-gke-auto-upgrade-failure.md."""
    from shared.domain.rca import slug

    return f"{rca.date.isoformat()}-{slug(rca.title)}.md"


def _utc(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _cell(value: str) -> str:
    """One Markdown table cell: no pipes or line breaks to break the row."""
    return " ".join(str(value).replace("|", "\\|").split())


def _or_pending(value: str) -> str:
    return value.strip() if value and value.strip() else "_To be written._"


def _yaml_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined,  # noqa: S701 (Markdown)
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(utc=_utc, cell=_cell, or_pending=_or_pending, yaml_text=_yaml_text)
    return env
