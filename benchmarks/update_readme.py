"""Regenerate the result tables of the README and of docs/*.md from benchmarks/results/ (never typed by hand).

Each block between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` is replaced by the contents of
benchmarks/results/NAME.md (NAME may name a subfolder: ``analysis/convergence_ag_news``).
Usage: python benchmarks/update_readme.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w./-]+) -->\n)(.*?)(<!-- /results:(?P=name) -->)", re.DOTALL)


def fill(match: re.Match) -> str:
    source = ROOT / "benchmarks" / "results" / f"{match['name']}.md"
    body = source.read_text(encoding="utf-8") if source.exists() else f"_not yet run: {source.name} missing_\n"
    return match.group(1) + body + match.group(4)


def main() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        updated = BLOCK.sub(fill, text)
        if updated != text:
            page.write_text(updated, encoding="utf-8")
            print(f"updated {page}")


if __name__ == "__main__":
    main()
