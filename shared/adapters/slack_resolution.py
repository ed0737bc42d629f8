"""Slack views of resolution work (slack_sdk Block Kit models) and the parsing of what comes back. Pure.

Identifiers (the contract with interaction payloads):
* `/incident note|change|review|rca <INC id> [text]` subcommands (handled before the others).
* Message shortcut ``callback_id = "incident_add_to_timeline"`` opens the modal ``timeline_add``:
  input blocks ``incident`` and ``text`` (action ``value``); private_metadata ``<channel>|<ts>``.
* The RCA editor: an ephemeral message with one button per section (``action_id = "rca_edit"``,
  ``value = <RCA id>|<section>``); each opens the modal ``rca_section`` with one input block ``text``
  (action ``value``), private_metadata ``<RCA id>|<section>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from shared.domain.rca import SECTIONS, Rca

SHORTCUT_CALLBACK = "incident_add_to_timeline"
TIMELINE_ADD_CALLBACK = "timeline_add"
RCA_EDIT_ACTION = "rca_edit"
RCA_SECTION_CALLBACK = "rca_section"
VALUE = "value"
SECTION_MAX = 3000  # Slack's plain_text_input limit
VERBS = ("note", "change", "review", "rca")
INCIDENT_ID = re.compile(r"^INC-\d{4}-\d{4,}$")
RCA_ID = re.compile(r"^RCA-[A-Za-z0-9-]{3,120}$")

USAGE = (
    "• `/incident note INC-2026-0042 <text>` — add a note to the incident's timeline\n"
    "• `/incident change INC-2026-0042 <what changed>` — record an emergency change (stakeholder review in 24 h)\n"
    "• `/incident review INC-2026-0042 [notes]` — mark the post-incident review held\n"
    "• `/incident rca INC-2026-0042` — edit the RCA, one section at a time\n"
    "• Message shortcut *Add to incident timeline* — copy a Slack message to the timeline"
)


@dataclass(frozen=True)
class SlashRequest:
    verb: str
    incident_id: str | None
    text: str
    problem: str | None = None


def parse_slash(text: str) -> SlashRequest | None:
    """Our subcommands, or None for every other one (the main /incident handler takes it)."""
    words = (text or "").split(maxsplit=2)
    if not words or words[0].lower() not in VERBS:
        return None
    verb = words[0].lower()
    if len(words) < 2:
        return SlashRequest(verb, None, "", f"`{verb}` needs an incident id, e.g. `/incident {verb} INC-2026-0042`.")
    target = words[1].upper()
    if not INCIDENT_ID.match(target) and not (verb == "rca" and RCA_ID.match(words[1])):
        return SlashRequest(verb, None, "", f"`{words[1][:40]}` is not an incident id (like INC-2026-0042).")
    rest = words[2].strip() if len(words) > 2 else ""
    if verb in ("note", "change") and len(rest) < 3:
        return SlashRequest(verb, target, "", f"`{verb}` needs the text: `/incident {verb} {target} <text>`.")
    if len(rest) > 5000:
        return SlashRequest(verb, target, "", "Keep it under 5000 characters.")
    return SlashRequest(verb, target if INCIDENT_ID.match(target) else words[1], rest)


def rca_editor(rca: Rca) -> list[dict[str, Any]]:
    """The ephemeral message listing the RCA's sections, each with an Edit button."""
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(
        text=f"*{rca.id}* ({rca.status.value.replace('_', ' ')}): {_clip(rca.title, 200)}"))]
    for key, label in SECTIONS.items():
        current = rca.sections.get(key, "").strip()
        preview = _clip(current, 150) if current else "_to be written_"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{label}*\n{preview}"),
                                   accessory=ButtonElement(text="Edit", action_id=RCA_EDIT_ACTION,
                                                           value=f"{rca.id}|{key}")))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=(
        "Prevention measures, status changes and the Markdown export: `incidentctl rca` or "
        f"`PATCH /api/rcas/{rca.id}`."))]))
    return [b.to_dict() for b in blocks[:50]]


def section_modal(rca: Rca, section: str) -> View:
    label = SECTIONS[section]
    current = rca.sections.get(section, "")
    return View(type="modal", callback_id=RCA_SECTION_CALLBACK, private_metadata=f"{rca.id}|{section}",
                title=_clip(label, 24), submit="Save", close="Cancel", blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f"*{rca.id}*: {_clip(rca.title, 200)}")),
                    InputBlock(block_id="text", label=label, element=PlainTextInputElement(
                        action_id=VALUE, multiline=True, max_length=SECTION_MAX,
                        initial_value=_clip(current, SECTION_MAX) or None))])


def timeline_modal(incident_id: str | None, text: str, channel: str, ts: str) -> View:
    return View(type="modal", callback_id=TIMELINE_ADD_CALLBACK, private_metadata=f"{channel}|{ts}",
                title="Add to timeline", submit="Add", close="Cancel", blocks=[
                    InputBlock(block_id="incident", label="Incident", element=PlainTextInputElement(
                        action_id=VALUE, initial_value=incident_id or None, placeholder="INC-2026-0042",
                        max_length=20)),
                    InputBlock(block_id="text", label="Message", element=PlainTextInputElement(
                        action_id=VALUE, multiline=True, max_length=SECTION_MAX,
                        initial_value=_clip(text, SECTION_MAX) or None))])


def submitted_values(view: Mapping[str, Any]) -> dict[str, str]:
    values = (view.get("state") or {}).get("values") or {}
    out = {}
    for block_id, actions in values.items():
        element = actions.get(VALUE) if isinstance(actions, dict) else None
        if isinstance(element, dict) and isinstance(element.get("value"), str):
            out[block_id] = element["value"]
    return out


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
