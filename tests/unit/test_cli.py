"""incidentctl's pure parts: options anywhere, colours only on a terminal, aligned tables, usage errors."""

from __future__ import annotations

import io
import re

import pytest

from cli.main import hoist_global_options, main
from cli.render import Painter, seconds, table, use_colour


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_global_options_are_accepted_after_the_command():
    assert hoist_global_options(["list", "--json", "--url", "http://x/api", "--status", "open"]) == [
        "--json", "--url", "http://x/api", "list", "--status", "open"]
    assert hoist_global_options(["show", "INC-2026-0001", "--token=abc"]) == ["--token=abc", "show", "INC-2026-0001"]


def test_colours_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(Tty()) and not use_colour(io.StringIO())
    assert not use_colour(Tty(), force_off=True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(Tty())


def test_tables_align_on_the_visible_text_even_with_colours():
    paint = Painter(True)
    rows = [[("INC-2026-0001",) * 2, ("critical", paint.severity("critical"))],
            [("INC-2026-0002",) * 2, ("low", paint.severity("low"))]]
    lines = table(["ID", "SEVERITY"], rows, paint).splitlines()
    assert "\x1b[1;31mcritical\x1b[0m" in lines[1]
    visible = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    assert visible == ["ID             SEVERITY", "INC-2026-0001  critical", "INC-2026-0002  low"]


def test_durations_read_well():
    assert [seconds(v) for v in (None, 59, 600, 7200)] == ["-", "59 s", "10 min", "2.0 h"]


def test_resolving_without_a_summary_is_a_usage_error_before_any_request(capsys):
    code = main(["--url", "http://127.0.0.1:9/api", "--no-color", "resolve", "INC-2026-0001"])
    assert code == 2 and "needs a summary" in capsys.readouterr().err


def test_an_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
