"""shared/domain stays pure: no SDK, no network library (`make check-domain`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local import check_domain
from local.check_domain import violations


def domain_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A throwaway tree laid out like the repo: <tmp>/shared/domain/<files>."""
    root = tmp_path / "shared" / "domain"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_repository_domain_is_pure() -> None:
    assert violations() == []


def test_make_check_domain_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_domain.main() == 0
    assert "imports no SDK" in capsys.readouterr().out


def test_a_clean_domain_has_no_violations(tmp_path: Path) -> None:
    root = domain_with(tmp_path, {
        "model.py": "from __future__ import annotations\nimport hashlib\nfrom datetime import datetime\n",
        "rules.py": "from . import model\nfrom .model import datetime\nimport googleapis_like\nimport requests_mock\n",
    })
    assert violations(root) == []


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("import google.cloud.firestore\n", "google.cloud.firestore"),
        ("from google.cloud import firestore\n", "google.cloud"),
        ("from slack_sdk import WebClient\n", "slack_sdk"),
        ("import requests\n", "requests"),
        ("import httpx as client\n", "httpx"),
        ("import urllib.request\n", "urllib.request"),
        ("from socket import create_connection\n", "socket"),
        ("import flask\n", "flask"),
    ],
)
def test_a_planted_forbidden_import_is_found(tmp_path: Path, source: str, name: str) -> None:
    root = domain_with(tmp_path, {"bad.py": "from __future__ import annotations\n\n" + source})
    assert violations(root) == [f"shared/domain/bad.py:3: imports {name}"]


def test_imports_nested_in_functions_and_subpackages_are_found(tmp_path: Path) -> None:
    root = domain_with(tmp_path, {
        "ok.py": "import json\n",
        "sources/grafana.py": "import json\n\n\ndef send():\n    import requests\n    return requests\n",
    })
    assert violations(root) == ["shared/domain/sources/grafana.py:5: imports requests"]


def test_every_violation_of_every_file_is_listed_in_path_order(tmp_path: Path) -> None:
    root = domain_with(tmp_path, {
        "b.py": "import requests\nfrom slack_sdk import WebClient\n",
        "a.py": "import os, google.cloud.firestore\n",
    })
    assert violations(root) == [
        "shared/domain/a.py:1: imports google.cloud.firestore",
        "shared/domain/b.py:1: imports requests",
        "shared/domain/b.py:2: imports slack_sdk",
    ]


def test_from_package_import_of_a_forbidden_submodule_is_found(tmp_path: Path) -> None:
    root = domain_with(tmp_path, {"bad.py": "from urllib import request\n"})
    assert violations(root) == ["shared/domain/bad.py:1: imports urllib.request"]
