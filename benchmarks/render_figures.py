"""Draw the committed figures of benchmarks/results again from their JSON records, with no training or timing:
compare's two plots per data set, GLUE's bars and the analyses' plots (the other benchmarks redraw theirs with
their own ``--render-only``). Run it after a change to ``wave_network.reporting``.

    python benchmarks/render_figures.py
"""

from __future__ import annotations

import json
from pathlib import Path

from wave_network.glue import GlueConfig
from wave_network.reporting import (
    plot_comparison,
    plot_complexity,
    plot_convergence,
    plot_glue,
    plot_gradients,
    plot_independence,
)

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    written = []
    for path in sorted(RESULTS.glob("compare_*.json")):
        record = json.loads(path.read_text())
        stem = path.with_suffix("")
        written += plot_comparison(
            record,
            stem.with_name(stem.name + "_accuracy_vs_time.png"),
            stem.with_name(stem.name + "_accuracy_vs_params.png"),
        )
    glue = RESULTS / "glue.json"
    if glue.exists():
        record = json.loads(glue.read_text())
        plot_glue(GlueConfig(**record["config"]), record["tasks"], glue.with_suffix(".png"))
        written.append(glue.with_suffix(".png"))
    for path in sorted((RESULTS / "analysis").glob("*.json")):
        payload = json.loads(path.read_text())
        png = path.with_suffix(".png")
        if path.name.startswith("gradients_"):
            plot_gradients(payload, png)
        elif path.name.startswith("convergence_"):
            plot_convergence(payload, png)
        elif path.name.startswith("independence_"):
            plot_independence(payload, payload["config"]["ratio"], png)
        elif path.name.startswith("complexity_"):
            plot_complexity(payload, png)
        else:
            continue
        written.append(png)
    print("\n".join(str(p.relative_to(RESULTS.parent.parent)) for p in written))


if __name__ == "__main__":
    main()
