"""Issue 20's pre-training question: does masked-token pre-training of the wave path, on the training texts of the
data sets here (in-domain, offline), close any of the gap to the pre-trained MiniLM baseline?

    python benchmarks/pretrain_benchmark.py                                  # every variant, task and seed
    python benchmarks/pretrain_benchmark.py --variants wave-wide --tasks rte,mrpc --seeds 42
    python benchmarks/pretrain_benchmark.py --report-only                    # tables and plot from finished runs

For each variant (a Wave preset with `--set` overrides), `wave-network pretrain` trains its wave path once (the
corpus leaves out the validation texts of seeds 42-44 and every dev/test text), then every task is trained twice
per seed with the same recipe, from scratch and `--init-from` the pre-training run. The recipe is the ladder's best
from-scratch SST-2 rung, `wave-wide, no label smoothing` (benchmarks/wave_variants_benchmark.py): the wide path on the
mean of hashed uni- and bigram weights, no label smoothing, up to 20 epochs with early stopping on validation. SST-2
validates on whole held-out sentences (as the ladder); the GLUE pair tasks on a 20% row split (as `glue`). Max length
128 throughout. The majority and MiniLM (`bert`) rows are read from benchmarks/results/glue.json (same tasks, seeds,
split and max length; SST-2's there validates on rows).

Accuracy only (MCC for CoLA): the runs may share the machine, so no throughput is read from them, except the
pre-training runs' own tokens/s, recorded with a note of what ran beside them.
Run directories: runs/benchmarks/pretrain/<variant>/pretrain and
runs/benchmarks/pretrain/<variant>/<task>__<init>__seed<seed> (a finished one is reused).
Results: benchmarks/results/pretrain.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wave_variants_benchmark as ladder  # noqa: E402  (the ladder's protocol and helpers)
from efficiency import cpu_name  # noqa: E402
from wave_network.reporting import model_styles, new_figure  # noqa: E402

RUNS = ladder.RUNS / "pretrain"
RESULTS = ladder.RESULTS
MAX_LENGTH = 128
TASKS = {"sst2": "accuracy", "rte": "accuracy", "mrpc": "accuracy", "cola": "mcc"}
BASE_NAME = "wave-wide, no label smoothing"
_, PRESET, RECIPE, _ = next(r for r in ladder.LADDER if r[0] == BASE_NAME)
# (variant, WaveConfig overrides shared by pre-training and fine-tuning, pre-training epochs, what it is)
VARIANTS = [
    ("wave-wide", [], 3, "the base rung's wave path: 1 block, text-level G"),
    (
        "wave-wide, text+local G",
        ["global_semantics=text+local", "local_window=2"],
        3,
        "text-level wave x local wave (+-2 neighbours): a masked token sees its neighbours",
    ),
]
INITS = ("scratch", "pretrained")


def variant_dir(name: str) -> Path:
    return RUNS / ladder.slug(name)


def pretrain_variant(entry: tuple) -> Path:
    name, sets, epochs, _ = entry
    out = variant_dir(name) / "pretrain"
    if not (out / "results.json").exists():
        command = ["wave-network", "pretrain", "-m", PRESET, "--max-length", str(MAX_LENGTH), "--epochs", str(epochs),
                   "--output-dir", str(out.relative_to(ladder.ROOT)), "--quiet"]  # fmt: skip
        command += [a for s in sets for a in ("--set", s)] + (["--resume"] if out.exists() else [])
        ladder.run(command)
    return out


def finetune(entry: tuple, task: str, init: str, seed: int) -> Path:
    name, sets, _, _ = entry
    out = variant_dir(name) / f"{task}__{init}__seed{seed}"
    if (out / "results.json").exists():
        return out
    command = ["wave-network", "train", "-m", PRESET, "-d", task, "--max-length", str(MAX_LENGTH),
               "--seed", str(seed), "--output-dir", str(out.relative_to(ladder.ROOT)), "--quiet"]  # fmt: skip
    if task in ladder.VAL_SPLIT:
        command += ["--val-split", ladder.VAL_SPLIT[task]]
    for item in [*RECIPE, *sets]:
        command += [item] if item.startswith("--") else ["--set", item]
    if init == "pretrained":
        command += ["--init-from", str(pretrain_variant(entry).relative_to(ladder.ROOT))]
    command += ["--resume"] if out.exists() else []
    ladder.run(command)
    return out


def summary(values: list[float]) -> dict:
    return {
        "values": values,
        "mean": statistics.fmean(values) if values else None,
        "std": statistics.stdev(values) if len(values) > 1 else None,
        "n": len(values),
    }


def glue_reference(task: str, model: str, metric: str) -> dict | None:
    """The ``glue`` suite's row for ``model`` on ``task`` (x 100), from benchmarks/results/glue.json."""
    path = RESULTS / "glue.json"
    if not path.exists():
        return None
    entry = json.loads(path.read_text())["tasks"].get(task, {}).get("models", {}).get(model)
    if not entry or metric not in entry:
        return None
    values = [100 * r[metric] for r in entry["runs"] if r.get("status") == "ok" and metric in r]
    return summary(values)


def collect(variants: list[tuple], tasks: list[str], seeds: list[int]) -> dict:
    """The finished runs' test metrics (x 100), per task and row, and each pre-training run's record."""
    record: dict = {
        "max_length": MAX_LENGTH,
        "recipe": BASE_NAME,
        "seeds": seeds,
        "cpu": cpu_name(),  # of the machine that wrote the report: the runs are reused only where they were trained
        "pretraining": {},
        "tasks": {},
    }
    for name, sets, epochs, about in variants:
        path = variant_dir(name) / "pretrain" / "results.json"
        if path.exists():
            result = json.loads(path.read_text())
            corpus = result.get("dataset_provenance") or {}
            record["pretraining"][name] = {
                "overrides": sets,
                "about": about,
                "epochs": epochs,
                "val_loss": result["metrics"].get("val_loss"),
                "val_accuracy": result["metrics"].get("val_accuracy"),
                "train_windows": corpus.get("windows", {}).get("train"),
                "train_tokens": corpus.get("tokens", {}).get("train"),
                "wall_time_s": result["resources"]["wall_time_s"],
                "train_tokens_per_s": result["resources"]["train_tokens_per_s"],
                "device": result["device"],
                "precision": result["precision"],
                "sources": corpus.get("sources"),
                "run_dir": str(path.parent.relative_to(ladder.ROOT)),
            }
    for task in tasks:
        metric = TASKS[task]
        rows = {}
        for name, *_ in variants:
            for init in INITS:
                dirs = [variant_dir(name) / f"{task}__{init}__seed{s}" for s in seeds]
                done = [json.loads((d / "results.json").read_text()) for d in dirs if (d / "results.json").exists()]
                if done:
                    rows[f"{name} ({init})"] = summary([100 * r["metrics"][f"test_{metric}"] for r in done]) | {
                        "seeds": [r["seed"] for r in done]
                    }
        for model, label in (("majority", "majority"), ("bert", "MiniLM (pre-trained, from glue.json)")):
            reference = glue_reference(task, model, metric)
            if reference is not None:
                rows[label] = reference
        record["tasks"][task] = {"metric": metric, "rows": rows}
    return record


def _cell(entry: dict | None) -> str:
    if not entry or entry["mean"] is None:
        return "-"
    spread = f" ± {entry['std']:.1f}" if entry["std"] is not None else ""
    return f"{entry['mean']:.1f}{spread} (n={entry['n']})"


def markdown(record: dict) -> str:
    tasks = list(record["tasks"])
    names = list(dict.fromkeys(n for t in tasks for n in record["tasks"][t]["rows"]))
    head = " | ".join(
        f"{t} {record['tasks'][t]['metric'].replace('accuracy', 'acc.').replace('mcc', 'MCC')}" for t in tasks
    )
    lines = [f"| model | {head} |", "|---|" + "---:|" * len(tasks)]
    for name in names:
        cells = " | ".join(_cell(record["tasks"][t]["rows"].get(name)) for t in tasks)
        lines.append(f"| {name} | {cells} |")
    lines += [
        "",
        f"Test metric x 100, mean ± standard deviation over seeds {record['seeds']} (n = runs finished); max length "
        f"{record['max_length']}; fine-tuning recipe: the ladder's `{record['recipe']}` rung, the same for both "
        "initialisations; SST-2 validates on whole held-out sentences, the pair tasks on 20% of their rows.",
        "",
        "| pre-training | corpus (train windows / tokens) | epochs | val masked-token loss | val masked-token acc. "
        "| wall time | tokens/s | device, precision |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, p in record["pretraining"].items():
        lines.append(
            f"| {name} | {p['train_windows']:,} / {p['train_tokens']:,} | {p['epochs']} | {p['val_loss']:.3f} | "
            f"{100 * p['val_accuracy']:.1f}% | {p['wall_time_s'] / 60:.1f} min | {p['train_tokens_per_s']:,.0f} | "
            f"{p['device']}, {p['precision']} |"
        )
    lines += ["", f"CPU: {record['cpu']}. Pre-training tokens/s: the whole run's training steps (validation excluded)."]
    return "\n".join(lines) + "\n"


def plot(record: dict, path: Path) -> None:
    """Each task's metric (mean ± seed std) for every row, one panel per task."""
    tasks = list(record["tasks"])
    names = list(dict.fromkeys(n for t in tasks for n in record["tasks"][t]["rows"]))
    styles = model_styles(names)
    fig = new_figure((4.2 * len(tasks) + 2.5, 0.45 * len(names) + 1.6))
    axes = fig.subplots(1, len(tasks), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = record["tasks"][task]["rows"]
        for y, name in enumerate(reversed(names)):
            entry = rows.get(name)
            if entry and entry["mean"] is not None:
                style = styles[name]
                ax.errorbar(entry["mean"], y, xerr=entry["std"] or 0, fmt=style.marker, color=style.color, capsize=3)
        ax.set_yticks(range(len(names)), list(reversed(names)), fontsize=8)
        ax.set_xlabel(f"test {record['tasks'][task]['metric']} x 100")
        ax.set_title(task)
        ax.grid(True, axis="x", alpha=0.3)
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=None, help="semicolon-separated variant names (default: all)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--report-only", action="store_true", help="only tables and plot from finished runs")
    args = parser.parse_args()
    names = args.variants.split(";") if args.variants else [v[0] for v in VARIANTS]
    unknown = sorted(set(names) - {v[0] for v in VARIANTS})
    tasks = args.tasks.split(",")
    if unknown or set(tasks) - set(TASKS):
        parser.error(f"known variants {[v[0] for v in VARIANTS]}, tasks {list(TASKS)}")
    chosen = [v for v in VARIANTS if v[0] in names]
    seeds = [int(s) for s in args.seeds.split(",")]
    if not args.report_only:
        for entry in chosen:
            pretrain_variant(entry)
            for seed in seeds:  # a seed of every task and both starts before the next seed
                for task in tasks:
                    for init in INITS:
                        finetune(entry, task, init, seed)
    record = collect(VARIANTS, list(TASKS), seeds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pretrain.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / "pretrain.md").write_text(markdown(record))
    plot(record, RESULTS / "pretrain.png")
    print((RESULTS / "pretrain.md").read_text())


if __name__ == "__main__":
    main()
