"""Parameter accounting of every Wave preset beside the published counts.

Writes benchmarks/results/params.json and params.md. Usage: python benchmarks/param_table.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wave_network import count_parameters, create_model, get_preset, list_presets

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"

# Published counts (REFERENCE.md section 2), for a 4-class task with the 30,522-token bert-base-uncased vocabulary.
PUBLISHED = {
    "paper-modulation": 'paper section 4a: "2.4 million parameters" (non-embedding)',
    "paper-interference": 'paper section 4a: "2.4 million parameters" (non-embedding)',
    "seed-modulation": "proof-of-life README, AG News: 24,626,692 total",
}


def main() -> None:
    rows = []
    for name in list_presets():
        counts = count_parameters(create_model(name, num_labels=4, vocab_size=30522))
        rows.append(
            {
                "model": name,
                "description": get_preset(name).description,
                **counts.as_dict(),
                "published": PUBLISHED.get(name, "-"),
            }
        )
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "params", "num_labels": 4, "vocab_size": 30522, "command": " ".join(sys.argv), "rows": rows}
    (OUT / "params.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        "| preset | total | token+position embeddings | non-embedding | published |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['model']}` | {r['total']:,} | {r['embedding']:,} | {r['non_embedding']:,} | {r['published']} |"
        )
    (OUT / "params.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
