"""`make package` (local/package.py): one deterministic archive, named by its content, that Cloud Functions can load."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from local import package
from shared import topology

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of what the packager reads, so tests never touch the repository's build/."""
    root = tmp_path_factory.mktemp("src")
    for name in package.PACKAGES:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in package.FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    # things that must never ship, beside and inside the packaged folders
    for junk in ("tests/unit/test_x.py", "bench/run.py", ".venv/lib/site.py", "local/stack.py",
                 "shared/__pycache__/x.cpython-311.pyc", "functions/.hidden"):
        (root / junk).parent.mkdir(parents=True, exist_ok=True)
        (root / junk).write_text("junk\n")
    return root


@pytest.fixture(scope="module")
def built(source, tmp_path_factory) -> Path:
    return package.build(source, tmp_path_factory.mktemp("out"))


def names(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        return zf.namelist()


def test_the_archive_is_named_by_a_12_hex_content_hash(built):
    assert built.name.startswith("incident-functions-") and built.suffix == ".zip"
    digest = built.stem.removeprefix("incident-functions-")
    assert len(digest) == 12 and int(digest, 16) >= 0
    assert sorted(p.name for p in built.parent.iterdir()) == sorted(["package", built.name])


def test_building_twice_gives_the_same_name_and_the_same_bytes(source, built, tmp_path):
    again = package.build(source, tmp_path)
    assert again.name == built.name
    assert again.read_bytes() == built.read_bytes()


def test_a_changed_file_gives_another_name_and_the_old_archive_is_replaced(source, built, tmp_path):
    first = package.build(source, tmp_path)
    policy = source / "config" / "policy.yaml"
    original = policy.read_bytes()
    try:
        policy.write_bytes(original + b"\n# changed\n")
        second = package.build(source, tmp_path)
    finally:
        policy.write_bytes(original)
    assert second.name != first.name
    assert not first.exists(), "one archive in the build folder: the one just built"
    assert package.build(source, tmp_path).name == built.name  # back to the same content, same name


def test_entries_are_sorted_with_fixed_timestamps_and_permissions(built):
    with zipfile.ZipFile(built) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_the_archive_holds_the_code_the_policy_main_and_pinned_requirements_only(built):
    entries = names(built)
    assert {"main.py", "requirements.txt", "config/policy.yaml"} <= set(entries)
    assert {e.split("/")[0] for e in entries} == {"main.py", "requirements.txt", "config", "functions", "shared"}
    assert [e for e in entries if e.startswith("config/")] == ["config/policy.yaml"]
    for bad in ("tests/", "bench/", ".venv/", "local/", "__pycache__", ".pyc", "/."):
        assert not [e for e in entries if bad in e or e.startswith(bad)], bad
    assert "shared/topology.py" in entries and "functions/__init__.py" in entries
    with zipfile.ZipFile(built) as zf:
        assert zf.read("requirements.txt") == (ROOT / "requirements.txt").read_bytes()
        requirements = [ln for ln in zf.read("requirements.txt").decode().splitlines() if ln and ln[0] != "#"]
    assert requirements and all("==" in ln for ln in requirements), "every requirement pinned"
    assert any(ln.startswith("functions-framework==") for ln in requirements)


def test_the_folder_holds_exactly_what_the_archive_holds(built):
    folder = built.parent / "package"
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert on_disk == names(built)
    with zipfile.ZipFile(built) as zf:
        assert all(zf.read(name) == (folder / name).read_bytes() for name in on_disk)


def test_main_exports_every_entry_point_of_the_topology(built):
    with zipfile.ZipFile(built) as zf:
        tree = ast.parse(zf.read("main.py"))
    exported = next(ast.literal_eval(n.value) for n in tree.body
                    if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "__all__")
    imported = {alias.name for n in tree.body if isinstance(n, ast.ImportFrom) for alias in n.names}
    expected = {fn.entry_point for fn in topology.FUNCTIONS}
    assert set(exported) == imported == expected


def test_main_imports_from_the_unpacked_folder_without_loading_a_google_client(built, tmp_path):
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(built) as zf:
        zf.extractall(unpacked)
    probe = (
        "import json, sys\n"
        "import main\n"
        "heavy = ('google.cloud.firestore', 'google.cloud.pubsub', 'google.cloud.tasks', 'google.api_core',"
        " 'google.auth', 'grpc')\n"
        "print(json.dumps({'main': main.__file__, 'functions': sys.modules['functions'].__file__,"
        " 'callables': sorted(n for n in main.__all__ if callable(getattr(main, n))),"
        " 'heavy': sorted(m for m in sys.modules if m.startswith(heavy))}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INCIDENT_CONFIG")}
    result = subprocess.run([sys.executable, "-c", probe], cwd=unpacked, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["main"]).resolve() == (unpacked / "main.py").resolve()
    assert Path(report["functions"]).resolve().is_relative_to(unpacked.resolve()), "imported the repository's copy"
    assert report["callables"] == sorted(fn.entry_point for fn in topology.FUNCTIONS)
    assert report["heavy"] == [], "Google clients must be imported lazily (shared/bootstrap.py)"


def test_a_topology_function_without_a_module_stops_the_build(source, tmp_path):
    broken = tmp_path / "src"
    shutil.copytree(source, broken)
    topology_file = broken / "shared" / "topology.py"
    topology_file.write_text(topology_file.read_text().replace(
        'FUNCTIONS: tuple[Function, ...] = (', 'FUNCTIONS: tuple[Function, ...] = (\n    Function("no-such", "http"),'))
    with pytest.raises(package.PackageError, match="functions/no_such.py"):
        package.build(broken, tmp_path / "out")


def test_the_command_prints_the_archive_path(source, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(package, "ROOT", source)
    assert package.main(["--out-dir", str(tmp_path)]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed.is_file() and printed.parent == tmp_path and printed.name.startswith("incident-functions-")
