"""Replace README tables with freshly printed ones: ``benchmarks/X.py --table | python scripts/readme_tables.py``.

Each table on stdin (a run of lines starting with ``|``) replaces the README table whose header line
is the same or, failing that, the one README table whose header has the same first two columns (a
table whose columns grow with the tasks measured); a printed table with neither is reported and left out.
"""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def tables(lines: list[str]) -> list[list[str]]:
    """The runs of consecutive ``|`` lines in ``lines``."""
    out: list[list[str]] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if line.startswith("|"):
            run.append(line)
        elif run:
            out.append(run)
            run = []
    return out


def replace(readme: list[str], table: list[str]) -> bool:
    """Put ``table`` where the README table with the same header is; False when there is none."""
    if table[0] in readme:
        start = readme.index(table[0])
    else:
        lead = "|".join(table[0].split("|")[:3]) + "|"
        same = [
            i
            for i, line in enumerate(readme)
            if line.startswith(lead) and (i == 0 or not readme[i - 1].startswith("|"))
        ]
        if len(same) != 1:
            return False
        start = same[0]
    end = start
    while end < len(readme) and readme[end].startswith("|"):
        end += 1
    readme[start:end] = table
    return True


def main() -> int:
    readme = README.read_text(encoding="utf-8").split("\n")
    missing = [t[0] for t in tables(sys.stdin.read().split("\n")) if not replace(readme, t)]
    README.write_text("\n".join(readme), encoding="utf-8")
    for header in missing:
        print(f"no README table with header: {header}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
