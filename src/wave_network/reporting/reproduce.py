"""``reproduce``'s table, from its JSON record (``reproduce_<table>.json``) alone."""

from __future__ import annotations

from typing import Any

__all__ = ["reproduce_markdown"]


def reproduce_markdown(record: dict[str, Any]) -> str:
    """Published numbers beside ours, one row per cell of the table, with each cell's notes."""
    lines = [
        f"**{record['title']}** (`wave-network reproduce {record['table']}`, seed {record['seed']})",
        "",
        "| row | data set | metric | published | ours | notes |",
        "|---|---|---|---:|---:|---|",
    ]
    for c in record["cells"]:
        ours = "not run" if c["ours"] is None else f"{c['ours']:.2f}"
        metric = c["metric"] if c["metric"] != "accuracy" else "acc."
        dataset = f"{c['dataset']} ({c['max_length']} tok.)"
        lines.append(
            f"| {c['row']} (`{c['model']}`) | {dataset} | {metric} | {c['published']:.2f} | {ours} | "
            f"{'; '.join(c['notes'])} |"
        )
    lines.append("")
    lines.append("MCC and correlations x 100. Published numbers as quoted in REFERENCE.md.")
    return "\n".join(lines) + "\n"
