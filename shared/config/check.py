"""`make check-config`: validate a policy file and say what it holds, or exactly what is wrong."""

from __future__ import annotations

import sys
from pathlib import Path

from shared.config.loader import PolicyError, load_policy


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "config/policy.yaml")
    try:
        policy = load_policy(path)
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{path}: valid. {len(policy.people)} people, {len(policy.roles)} roles, "
          f"{len(policy.incident_types)} incident types, {len(policy.classification.rules)} classification rules, "
          f"{len(policy.status_page.components)} status components.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
