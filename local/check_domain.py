"""The domain stays pure: nothing under shared/domain/ imports an SDK or does network I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

FORBIDDEN = ("google", "slack_sdk", "requests", "httpx", "urllib.request", "socket", "smtplib", "flask",
             "functions_framework", "grpc")
DOMAIN = Path(__file__).resolve().parents[1] / "shared" / "domain"


def violations(root: Path = DOMAIN) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            bad = next((n for n in names if any(n == b or n.startswith(b + ".") for b in FORBIDDEN)), None)
            if bad:
                found.append(f"{path.relative_to(root.parents[1])}:{node.lineno}: imports {bad}")
    return found


def main() -> int:
    found = violations()
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print("shared/domain must stay pure: move I/O into shared/adapters", file=sys.stderr)
        return 1
    print("shared/domain imports no SDK or network library.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
