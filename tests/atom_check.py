"""Checks an Atom feed against RFC 4287's required elements, with the standard library only."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

NS = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _one(parent: ET.Element, tag: str, where: str) -> ET.Element:
    found = parent.findall(f"{NS}{tag}")
    assert len(found) == 1, f"{where} must have exactly one atom:{tag} (has {len(found)})"
    return found[0]


def _text(parent: ET.Element, tag: str, where: str) -> str:
    text = (_one(parent, tag, where).text or "").strip()
    assert text, f"{where} atom:{tag} is empty"
    return text


def check_atom(data: bytes) -> list[dict[str, Any]]:
    """The feed's entries (id, title, updated, link) once every required element is there and well formed."""
    root = ET.fromstring(data)  # noqa: S314 (our own feed, in tests)
    assert root.tag == f"{NS}feed", f"the root is {root.tag}, not atom:feed"
    _text(root, "id", "feed")
    _text(root, "title", "feed")
    assert RFC3339.match(_text(root, "updated", "feed")), "feed atom:updated is not an RFC 3339 date"
    links = root.findall(f"{NS}link")
    assert any(link.get("rel") == "self" and link.get("href") for link in links), "feed needs a rel=self link"
    has_author = root.find(f"{NS}author/{NS}name") is not None
    entries = []
    for i, entry in enumerate(root.findall(f"{NS}entry")):
        where = f"entry {i}"
        item = {"id": _text(entry, "id", where), "title": _text(entry, "title", where),
                "updated": _text(entry, "updated", where)}
        assert RFC3339.match(item["updated"]), f"{where} atom:updated is not an RFC 3339 date"
        assert re.match(r"^[a-z][a-z0-9+.-]*:", item["id"]), f"{where} atom:id is not an IRI"
        hrefs = [link.get("href") for link in entry.findall(f"{NS}link") if link.get("rel", "alternate") == "alternate"]
        assert hrefs and all(hrefs), f"{where} needs an alternate link"
        content = entry.find(f"{NS}content")
        assert content is not None or entry.find(f"{NS}summary") is not None, f"{where} needs content or summary"
        assert has_author or entry.find(f"{NS}author/{NS}name") is not None, f"{where} has no author"
        item["link"] = hrefs[0]
        entries.append(item)
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "entry ids repeat"
    return entries
