"""Names that external systems constrain, built without importing their SDKs (cold starts stay cheap)."""

from __future__ import annotations

import re

_TASK_ID = re.compile(r"[^A-Za-z0-9_-]")


def task_id(*parts: str) -> str:
    """Cloud Tasks ids allow [A-Za-z0-9_-] up to 500 chars."""
    return _TASK_ID.sub("-", "-".join(parts))[:500]
