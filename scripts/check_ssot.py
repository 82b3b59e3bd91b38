"""Config SSOT check: no module but core/config.py reads the process environment."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {ROOT / "core" / "config.py"}
SKIP_DIRS = {".venv", ".leadflow", "tests", ".git", "node_modules"}
PATTERN = re.compile(r"os\.environ\s*(\[|\.get|\.copy|\.items)|os\.getenv\(|getenv\(|environ\.get\(")


def main() -> int:
    offenders = []
    for path in ROOT.rglob("*.py"):
        if SKIP_DIRS.intersection(path.relative_to(ROOT).parts) or path in ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if PATTERN.search(line) and "ssot: allow" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    if offenders:
        print("Environment read outside core/config.py (use Settings):", *offenders, sep="\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
