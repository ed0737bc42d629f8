"""Every function in one process, each mounted under its name, as functions-framework serves it.

`functions_framework.create_app` is called once per function, so requests, CloudEvents and
raw Pub/Sub pushes are handled exactly as in production; werkzeug's DispatcherMiddleware
strips the mount point (`/ingest/grafana` reaches `ingest` as `/grafana`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import functions_framework
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request, Response

from shared import topology

SOURCE = Path(__file__).resolve().parents[1] / "functions" / "main.py"


def build_app(health: Callable[[], dict[str, bool]]):
    mounts = {}
    for fn in topology.FUNCTIONS:
        mounts[f"/{fn.name}"] = functions_framework.create_app(
            target=fn.entry_point, source=str(SOURCE), signature_type=fn.signature_type)
    loaded = sorted(mounts)

    @Request.application
    def root(request: Request) -> Response:
        if request.path in ("/healthz", "/healthz/"):
            checks = {**health(), "functions": len(loaded) == len(topology.FUNCTIONS)}
            ok = all(checks.values())
            body = {"status": "ok" if ok else "starting", "checks": checks, "functions": loaded}
            return Response(json.dumps(body), status=200 if ok else 503, mimetype="application/json")
        body = {"error": "not_found", "detail": f"no function at {request.path}; mounted: {', '.join(loaded)}"}
        return Response(json.dumps(body), status=404, mimetype="application/json")

    return DispatcherMiddleware(root, mounts)


class CachedHealth:
    """Health checks hit the emulators at most once a second."""

    def __init__(self, checks: dict[str, Callable[[], bool]]):
        self.checks = checks
        self._at = 0.0
        self._last: dict[str, bool] = {}

    def __call__(self) -> dict[str, bool]:
        if time.monotonic() - self._at > 1.0:
            self._last = {name: check() for name, check in self.checks.items()}
            self._at = time.monotonic()
        return self._last
