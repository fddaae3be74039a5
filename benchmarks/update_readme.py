"""Regenerate the README's result tables from benchmarks/results/*.md (never typed by hand).

Each block between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` in README.md is replaced by the
contents of benchmarks/results/NAME.md. Usage: python benchmarks/update_readme.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w.-]+) -->\n)(.*?)(<!-- /results:(?P=name) -->)", re.DOTALL)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")

    def fill(match: re.Match) -> str:
        source = ROOT / "benchmarks" / "results" / f"{match['name']}.md"
        body = source.read_text(encoding="utf-8") if source.exists() else f"_not yet run: {source.name} missing_\n"
        return match.group(1) + body + match.group(4)

    readme.write_text(BLOCK.sub(fill, text), encoding="utf-8")
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
