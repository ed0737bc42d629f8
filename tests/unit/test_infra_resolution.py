"""Terraform for resolution work: the RCA list's composite indexes, the weekly digest job."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.unit.test_infra import blocks, root_files, root_locals

ROOT = Path(__file__).resolve().parents[2]


def test_every_rca_list_filter_combination_has_its_index():
    source = (ROOT / "shared" / "adapters" / "firestore_resolution.py").read_text()
    assert '(("severity", severity), ("status", status))' in source  # the filters the indexes are for
    assert 'order_by("date", direction=firestore.Query.DESCENDING).order_by(' in source
    locals_ = root_locals()
    combos = {tuple(c) for c in locals_["rca_list_filters"]}
    assert combos == {(), ("severity",), ("status",), ("severity", "status")}
    expression = locals_["rca_indexes"]
    assert '[{field = "date", order = "DESCENDING"}, {field = "id", order = "DESCENDING"}]' in expression
    assert "local.rca_indexes" in locals_["firestore_indexes"]


def test_the_other_resolution_queries_need_no_composite_index():
    """One field each (range and order on the same field, or equality only): single-field indexes serve them."""
    tree = ast.parse((ROOT / "shared" / "adapters" / "firestore_resolution.py").read_text())
    scanned = 0
    for method in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name != "list_rcas"):
        for stmt in (s for s in ast.walk(method) if isinstance(s, ast.Assign)):
            fields = {c.args[0].value for c in ast.walk(stmt.value) if isinstance(c, ast.Call)
                      and getattr(c.func, "attr", None) in ("FieldFilter", "order_by") and c.args
                      and isinstance(c.args[0], ast.Constant)}
            scanned += bool(fields)
            assert len(fields) <= 1, f"{method.name} queries {fields}: it needs a composite index"
    assert scanned >= 5, "the query scan found too little: has firestore_resolution.py changed shape?"


def test_the_weekly_digest_is_a_scheduler_job_calling_the_tasks_function():
    job = blocks(root_files(), "module")["scheduler"]["jobs"]["incident-digest"]
    assert job["uri"] == '${local.function_urls["tasks"]}/digest'
    assert job["schedule"] == "${var.digest_schedule}"
    assert job["service_account_email"] == "${google_service_account.tasks_invoker.email}"
    assert blocks(root_files(), "variable")["digest_schedule"]["default"] == "30 3 * * 1"


def test_the_slack_manifest_has_the_timeline_shortcut_and_may_upload_the_chart():
    import yaml

    from shared.adapters.slack_resolution import SHORTCUT_CALLBACK

    manifest = yaml.safe_load((ROOT / "infra" / "slack-app-manifest.yaml").read_text())
    assert [s["callback_id"] for s in manifest["features"]["shortcuts"]] == [SHORTCUT_CALLBACK]
    assert manifest["features"]["shortcuts"][0]["type"] == "message"
    assert "files:write" in manifest["oauth_config"]["scopes"]["bot"]
