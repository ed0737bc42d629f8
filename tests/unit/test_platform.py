"""Platform pieces: packaging pins, structured logs, the local stack's start-up checks, the topology."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from local import emulators
from local.requirements import requirements
from shared import topology
from shared.log import CloudLoggingFormatter, bind_trace

ROOT = Path(__file__).resolve().parents[2]


def test_requirements_txt_is_generated_from_the_pinned_runtime_dependencies():
    text = (ROOT / "requirements.txt").read_text()
    assert text == requirements(), "run `make requirements` after changing pyproject.toml"
    pins = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)
    assert {p.split("==")[0] for p in pins} >= {"functions-framework", "google-cloud-firestore", "google-cloud-pubsub",
                                                "google-cloud-tasks", "slack-sdk", "pydantic", "pyyaml", "jinja2"}


def test_log_lines_are_json_that_cloud_logging_reads():
    record = logging.LogRecord("ingest", logging.WARNING, __file__, 1, "request %s", ("rejected",), None)
    record.incident_id = "INC-2026-0001"
    bind_trace("105445aa7843bc8bf206b120001000/1;o=1", "acme-prod")
    try:
        entry = json.loads(CloudLoggingFormatter().format(record))
    finally:
        bind_trace(None, "acme-prod")
    assert entry["severity"] == "WARNING" and entry["message"] == "request rejected"
    assert entry["incident_id"] == "INC-2026-0001"
    assert entry["logging.googleapis.com/trace"] == "projects/acme-prod/traces/105445aa7843bc8bf206b120001000"


def test_exceptions_are_logged_with_their_stack_trace():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(CloudLoggingFormatter().format(record))
    assert entry["severity"] == "ERROR" and "RuntimeError: boom" in entry["stack_trace"]


def test_make_run_says_what_to_install_when_java_and_gcloud_are_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(emulators.StackError) as failure:
        emulators.check_prerequisites()
    message = str(failure.value)
    assert "Java 17" in message and "apt-get install openjdk-17-jre-headless" in message
    assert "Google Cloud CLI" in message


def test_every_topic_function_listens_to_a_declared_topic_and_names_are_unique():
    names = [f.name for f in topology.FUNCTIONS]
    assert len(names) == len(set(names))
    for fn in topology.FUNCTIONS:
        if fn.trigger == "topic":
            assert fn.topic in topology.TOPICS and fn.signature_type == "cloudevent"
        else:
            assert fn.topic is None and fn.signature_type == "http"


def test_every_function_in_the_topology_is_exported_by_functions_main():
    import functions.main as main

    for fn in topology.FUNCTIONS:
        assert callable(getattr(main, fn.entry_point)), fn.name
    assert set(main.__all__) == {f.entry_point for f in topology.FUNCTIONS}


def test_only_webhook_functions_and_the_status_page_are_public():
    assert {f.name for f in topology.FUNCTIONS if f.public} == {"ingest", "slack", "partners", "status"}
