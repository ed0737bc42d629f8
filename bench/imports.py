"""(d) Cold import time of each function's entry module next to the client libraries it really needs.

Every sample is a new interpreter (`python -c ...`) timing only the import statement with
perf_counter, so interpreter start-up is excluded; the figure is the median of several samples.
The child also reports which client libraries the import pulled into sys.modules: an entry module
that imports its clients lazily (shared.bootstrap) loads none of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.stats import median

ROOT = Path(__file__).resolve().parents[1]

CLIENTS = {
    "firestore": "google.cloud.firestore",
    "pubsub": "google.cloud.pubsub_v1",
    "tasks": "google.cloud.tasks_v2",
    "slack": "slack_sdk",
}
# What each function really uses at run time (shared.bootstrap builders it calls).
NEEDS = {
    "ingest": ("pubsub",),
    "classify": ("firestore", "pubsub", "tasks"),
    "notify": ("firestore", "slack"),
    "api": ("firestore", "pubsub"),
    "tasks": ("firestore", "pubsub"),
}

_CHILD = """
import json, sys, time
t = time.perf_counter()
{imports}
seconds = time.perf_counter() - t
probe = {probe!r}
print(json.dumps({{"seconds": seconds, "loaded": [k for k, m in probe.items() if m in sys.modules]}}))
"""


# Bytecode of every module (repository and site-packages) is cached here, not in __pycache__ folders: the
# throw-away first import compiles what is stale, so samples load .pyc files as a deployed function does,
# even when PYTHONDONTWRITEBYTECODE is set or sources just changed.
PYCACHE = Path(tempfile.gettempdir()) / "incident-bench-pycache"


def _clean_env() -> dict[str, str]:
    """No emulator variables (importing must not depend on them); bytecode cached under PYCACHE."""
    drop = ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "PYTHONPATH",
            "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def time_import(modules: list[str], samples: int = 5, timeout: float = 60.0) -> dict:
    """Median seconds to import `modules` in a fresh interpreter, and the client libraries it loaded."""
    code = _CHILD.format(imports="\n".join(f"import {m}" for m in modules), probe=CLIENTS)
    times: list[float] = []
    loaded: list[str] = []
    for _ in range(samples):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_clean_env(), capture_output=True,
                             text=True, timeout=timeout, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"importing {modules} failed:\n{out.stderr[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(result["seconds"])
        loaded = result["loaded"]
    return {"modules": modules, "median_s": median(times), "samples_s": [round(t, 4) for t in times],
            "clients_loaded": loaded}


def measure(samples: int = 5, log=print) -> dict:
    # One throw-away run first so the first sample does not also pay for cold disk caches and .pyc writes.
    time_import(["functions.main", *CLIENTS.values()], samples=1, timeout=180)
    out: dict = {"samples": samples, "pycache_prefix": str(PYCACHE), "functions": {}}
    for fn, needs in NEEDS.items():
        entry = time_import([f"functions.{fn}"], samples)
        clients = time_import([CLIENTS[c] for c in needs], samples)
        out["functions"][fn] = {
            "entry_module": f"functions.{fn}",
            "entry_import_s": entry["median_s"],
            "entry_loads_clients": entry["clients_loaded"],
            "clients": list(needs),
            "clients_import_s": clients["median_s"],
        }
        log(f"  import functions.{fn}: {entry['median_s'] * 1000:.0f} ms (clients it loads: "
            f"{', '.join(entry['clients_loaded']) or 'none'}); its clients {'+'.join(needs)}: "
            f"{clients['median_s'] * 1000:.0f} ms")
    everything = time_import(list(CLIENTS.values()), samples)
    out["all_clients"] = {"clients": list(CLIENTS), "import_s": everything["median_s"]}
    main = time_import(["functions.main"], samples)
    out["functions_main"] = {"import_s": main["median_s"], "loads_clients": main["clients_loaded"]}
    log(f"  all four clients: {everything['median_s'] * 1000:.0f} ms; functions.main: "
        f"{main['median_s'] * 1000:.0f} ms (clients it loads: {', '.join(main['clients_loaded']) or 'none'})")
    return out


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
