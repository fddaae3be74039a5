"""Efficiency of the Wave presets against this machine's own limits and the cheap classics, in one run.

    python benchmarks/efficiency.py                  # everything below (about 25 minutes on 2 cores)
    python benchmarks/efficiency.py --skip-tta       # without the IMDB time-to-accuracy race
    python benchmarks/efficiency.py --render-only    # rebuild efficiency.md / .png from efficiency.json

Run it with nothing else on the machine: every figure is a ratio or a rate measured in this one run.

What it measures, on ``--threads`` CPU threads (default 2):

* ``ceiling``: the machine's GEMM ceiling, GFLOP/s of fp32 and bf16 matrix products of the shapes the models
  use (the best of a few shapes, median of repeats), and whether oneDNN reports native bf16 (AVX-512 BF16 or
  AMX). ``ceiling.native_gflops`` is that of the fastest native precision: bf16 where native, else fp32.
* ``runs[NAME]``, NAME = ``<model>@<shape>`` for ``paper-modulation`` and ``wave-nb`` at the AG News shape
  (the 4,999-row subset, 128 tokens) and the IMDB shape (512 tokens), and for ``tfidf`` and ``fasttext``: a real
  ``wave_network.training.train`` run in its own process (``--steps`` optimiser steps of batch 64, then the
  usual validation and test evaluation), which records:

  - ``train_tokens_per_s``: real (non-padding) tokens per second of the training steps after ``--warmup``
    steps (the first steps compile the fused wave kernels and grow the allocator's heap), timed from the start
    of a step to its end, optimiser included. Classics: tokens of their one fitting pass over its time.
  - ``flops_per_token``: matrix-multiply FLOPs per real token of a training step, derived from the config
    (``wave_network.params.matmul_flops_per_token``: 6 x the multiply-adds the logits depend on; with [CLS]
    pooling the last block's tail runs once per text).
  - ``roofline_fraction``: flops_per_token x train_tokens_per_s / ceiling.native_gflops, the fraction of the
    GEMM ceiling the training step reaches (``null`` for the classics, which do no GEMMs).
  - ``peak_rss_mb``: the peak resident set of that whole process (``results.json``'s ``peak_memory_mb``: data,
    model, optimiser, training steps, validation and test evaluation).
  - ``inference``: for fp32 and bf16, batch 1 and batch 64, over the first test texts through
    ``training.inference.predict_logits`` (what ``predict`` runs: tokenisation included, batches of texts of
    similar length): ``infer_tokens_per_s`` (real tokens per second) and ``ms_per_text`` (time over texts).

* ``time_to_accuracy``: ``wave-nb`` trained on IMDB with the test accuracy probed every half epoch (probes not
  counted), against TF-IDF + LinearSVC fitted on the same split: ``tfidf_fit_s`` (its whole fit), the training
  seconds and wall seconds until wave-nb's test accuracy first passes TF-IDF's, and their ratio.

Results: benchmarks/results/efficiency.{json,md,png}; the README's table is regenerated from the .md by
benchmarks/update_readme.py. JSON keys are stable; every record names the CPU, threads and precision.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUTPUT = RESULTS / "efficiency.json"
SHAPES = {
    "ag_news": {"dataset": "ag_news", "max_length": 128, "label": "AG News subset, 128 tokens"},
    "imdb": {"dataset": "imdb", "max_length": 512, "label": "IMDB, 512 tokens"},
}
WAVE_PRESETS = ("paper-modulation", "wave-nb")
CLASSICS = ("tfidf", "fasttext")
INFER_TEXTS = {1: 32, 64: 256}  # texts timed at each batch size
# Extra runs under another process setting: name suffix -> environment (see training.environment.tune_allocator).
VARIANTS = {"paper-modulation@imdb": {"malloc-reuse": {"WAVE_NETWORK_MALLOC": "reuse"}}}


def write_result(output: Path, result: dict, markdown: Any) -> None:
    """A benchmark's result file ``output`` (JSON) and its Markdown table beside it (``markdown(result)``),
    printed too."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gemm_ceiling(threads: int, repeats: int = 10) -> dict[str, Any]:
    """fp32 and bf16 GEMM GFLOP/s, the best over shapes the models run (tokens x width products), median of
    ``repeats``."""
    import torch

    from wave_network.training.environment import _cpu_has_native_bf16

    torch.set_num_threads(threads)
    shapes = [(32768, 768, 1536), (32768, 768, 768), (32768, 256, 512), (4096, 4096, 4096)]
    out: dict[str, Any] = {"shapes": [list(s) for s in shapes]}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        best = 0.0
        for m, k, n in shapes:
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            for _ in range(2):
                a @ b
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                a @ b
                times.append(time.perf_counter() - start)
            best = max(best, 2 * m * k * n / statistics.median(times) / 1e9)
        out[f"{name}_gflops"] = best
    out["native_bf16"] = bool(_cpu_has_native_bf16())
    out["native_precision"] = "bf16" if out["native_bf16"] else "fp32"
    out["native_gflops"] = out[f"{out['native_precision']}_gflops"]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Child process: one real training run, its step timing and its inference timing.


def _child_run(model: str, shape: str, steps: int, warmup: int, threads: int, out_file: str) -> None:
    import torch

    from wave_network import data as wn_data
    from wave_network.training import TrainConfig, train
    from wave_network.training.callbacks import Callback

    class StepTimer(Callback):
        """Seconds and real tokens of every optimiser step (forward, backward, clipping, optimiser)."""

        def __init__(self) -> None:
            self.steps: list[tuple[float, int, int]] = []

        def on_step_begin(self, ctx, batch) -> None:  # noqa: ANN001
            self.start = time.perf_counter()
            self.tokens = int(batch["attention_mask"].sum())
            self.padded = int(batch["attention_mask"].numel())

        def on_step_end(self, ctx, logs) -> None:  # noqa: ANN001
            self.steps.append((time.perf_counter() - self.start, self.tokens, self.padded))

    spec = SHAPES[shape]
    timer = StepTimer()
    with tempfile.TemporaryDirectory(prefix="wave-efficiency-") as tmp:
        cfg = TrainConfig(
            model=model,
            data=wn_data.DataConfig(dataset=spec["dataset"], max_length=spec["max_length"]),
            max_steps=steps,
            batch_size=64 if model not in CLASSICS else None,
            num_threads=threads,
            output_dir=str(Path(tmp) / "run"),
            quiet=True,
        )
        result = train(cfg, callbacks=[timer])
        results = result.results
        timed = timer.steps[warmup:]
        record: dict[str, Any] = {
            "model": model,
            "shape": shape,
            "dataset": spec["dataset"],
            "max_length": spec["max_length"],
            "precision": results["precision"],
            "peak_rss_mb": results["resources"]["peak_memory_mb"],
            "parameters": results["resources"]["parameters"],
            "test_accuracy_after_run": results["metrics"].get("test_accuracy"),
            "steps": results["global_steps"],
        }
        if timed:
            seconds = sum(t for t, _, _ in timed)
            record |= {
                "train_tokens_per_s": sum(n for _, n, _ in timed) / seconds,
                "train_padded_tokens_per_s": sum(p for _, _, p in timed) / seconds,
                "step_ms_median": 1e3 * statistics.median(t for t, _, _ in timed),
                "timed_steps": len(timed),
            }
        else:  # fitted without gradients: one pass over the training split
            record["train_tokens_per_s"] = results["resources"]["train_tokens_per_s"]
            record["fit_s"] = (results["resources"]["epoch_times_s"] or [None])[0]
        model_dir = Path(result.run_dir) / "best"
        record["inference"] = _inference(model_dir, spec, threads)
        if model not in CLASSICS:
            from wave_network import WaveConfig
            from wave_network.params import matmul_flops_per_token

            config = WaveConfig.from_pretrained(model_dir)
            tokens_per_text = sum(n for _, n, _ in timed) / (64 * len(timed))
            record["tokens_per_text"] = tokens_per_text
            record["flops_per_token"] = matmul_flops_per_token(config, tokens_per_text, training=True)
    record["torch_threads"] = torch.get_num_threads()
    Path(out_file).write_text(json.dumps(record, indent=2))


def _inference(model_dir: Path, spec: dict, threads: int) -> dict[str, Any]:
    """Per-text latency and tokens/s of the saved model over test texts, tokenisation included."""
    import torch

    from wave_network import data as wn_data
    from wave_network.training.inference import load_model, predict_logits

    torch.set_num_threads(threads)
    model, tokenizer = load_model(model_dir, "cpu")
    splits = wn_data.load_splits(wn_data.DataConfig(dataset=spec["dataset"], max_length=spec["max_length"]))
    texts = list(splits.test["text"][: max(INFER_TEXTS.values())])
    out: dict[str, Any] = {}
    for precision in ("fp32", "bf16"):
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
        for batch, n in INFER_TEXTS.items():
            chunk = texts[:n]

            def run(items: list[str], batch: int = batch) -> None:
                predict_logits(model, tokenizer, items, batch, max_length=spec["max_length"])

            with torch.no_grad(), autocast:
                run(chunk[: 2 * batch])  # warm-up: compilation, allocator
                start = time.perf_counter()
                run(chunk)
                seconds = time.perf_counter() - start
            tokens = sum(
                len(ids) for ids in tokenizer(chunk, truncation=True, max_length=spec["max_length"])["input_ids"]
            )
            out[f"{precision}_batch{batch}"] = {
                "infer_tokens_per_s": tokens / seconds,
                "ms_per_text": 1e3 * seconds / len(chunk),
                "texts": len(chunk),
            }
    return out


# ---------------------------------------------------------------------------------------------------------------
# Child process: wave-nb against TF-IDF on IMDB, wall clock to TF-IDF's test accuracy.


def _child_tta(threads: int, max_epochs: int, out_file: str) -> None:
    from wave_network import data as wn_data
    from wave_network.training import TrainConfig, train
    from wave_network.training.callbacks import Callback

    data_cfg = wn_data.DataConfig(dataset="imdb", max_length=512)
    tokenizer = wn_data.get_tokenizer(data_cfg.tokenizer)
    tokenized = wn_data.tokenize_splits(wn_data.load_splits(data_cfg), tokenizer, 512)
    with tempfile.TemporaryDirectory(prefix="wave-tta-") as tmp:
        start = time.perf_counter()
        tfidf = train(
            TrainConfig(model="tfidf", data=data_cfg, num_threads=threads, output_dir=f"{tmp}/tfidf", quiet=True),
            data=tokenized,
            tokenizer=tokenizer,
        )
        tfidf_wall = time.perf_counter() - start
        target = tfidf.metrics["test_accuracy"]

        class Race(Callback):
            """Probes the test accuracy every half epoch; the probes' time is taken off the clocks."""

            def __init__(self, test_loader_factory) -> None:  # noqa: ANN001
                self.make_loader = test_loader_factory
                self.start = time.perf_counter()
                self.excluded = 0.0
                self.train_seconds = 0.0
                self.probes: list[dict[str, float]] = []
                self.passed: dict[str, float] | None = None

            def on_step_begin(self, ctx, batch) -> None:  # noqa: ANN001
                self.step_start = time.perf_counter()

            def on_step_end(self, ctx, logs) -> None:  # noqa: ANN001
                self.train_seconds += time.perf_counter() - self.step_start
                half = max(1, ctx.steps_per_epoch // 2)
                if ctx.state.global_step % half == 0 and self.passed is None:
                    probe_start = time.perf_counter()
                    accuracy = ctx.evaluate(self.make_loader(), "test").metrics["test_accuracy"]
                    self.excluded += time.perf_counter() - probe_start
                    probe = {
                        "step": ctx.state.global_step,
                        "epoch": ctx.state.global_step / ctx.steps_per_epoch,
                        "test_accuracy": accuracy,
                        "train_seconds": self.train_seconds,
                        "wall_seconds": time.perf_counter() - self.start - self.excluded,
                    }
                    self.probes.append(probe)
                    if accuracy > target:
                        self.passed = probe
                        ctx.state.should_stop = True
                        ctx.state.stop_reason = "passed TF-IDF's test accuracy"

        def test_loader():
            return wn_data.make_dataloader(tokenized.test, 128, shuffle=False, seed=0, pad_token_id=0)

        race = Race(test_loader)
        cfg = TrainConfig(
            model="wave-nb",
            data=data_cfg,
            epochs=max_epochs,
            num_threads=threads,
            output_dir=f"{tmp}/wave-nb",
            quiet=True,
        )
        train(cfg, callbacks=[race], data=tokenized, tokenizer=tokenizer)
    fit_s = (tfidf.results["resources"]["epoch_times_s"] or [None])[0]
    record = {
        "dataset": "imdb",
        "max_length": 512,
        "tfidf_test_accuracy": target,
        "tfidf_fit_s": fit_s,
        "tfidf_run_wall_s": tfidf_wall,
        "wave_nb_probes": race.probes,
        "wave_nb_passed": race.passed,
        "train_seconds_ratio": race.passed["train_seconds"] / fit_s if race.passed and fit_s else None,
        "wall_seconds_ratio": race.passed["wall_seconds"] / fit_s if race.passed and fit_s else None,
        "max_epochs": max_epochs,
    }
    Path(out_file).write_text(json.dumps(record, indent=2))


# ---------------------------------------------------------------------------------------------------------------
# Parent: orchestration, report.


def _in_child(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out_file = f.name
    command = [sys.executable, __file__, "--child", *args, "--out-file", out_file]
    print("$", " ".join(f"{k}={v}" for k, v in (env or {}).items()), " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, env=os.environ | (env or {}))
    return json.loads(Path(out_file).read_text())


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    record: dict[str, Any] = {
        "benchmark": "efficiency",
        "cpu": cpu_name(),
        "machine": platform.machine(),
        "threads": args.threads,
        "torch": torch.__version__,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"),
        "steps": args.steps,
        "warmup_steps": args.warmup,
    }
    previous = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {}
    if args.only and previous.get("ceiling"):  # the kept runs stay beside the ceiling they were measured against
        record["ceiling"] = previous["ceiling"]
        record["partial_rerun"] = {"rerun": args.only, "kept_from": previous.get("date")}
    else:
        record["ceiling"] = gemm_ceiling(args.threads)
    print(json.dumps(record["ceiling"]), flush=True)
    runs: dict[str, Any] = {}
    plan = [(f"{m}@{s}", m, s, None) for m in (*WAVE_PRESETS, *CLASSICS) for s in SHAPES]
    plan += [(f"{base}:{suffix}", *base.split("@"), env) for base, v in VARIANTS.items() for suffix, env in v.items()]
    for name, model, shape, env in plan:
        if args.only and name not in args.only:
            if name in previous.get("runs", {}):
                runs[name] = previous["runs"][name]
            continue
        run = _in_child(["run", model, shape, str(args.steps), str(args.warmup), str(args.threads)], env)
        run["environment"] = env or {}
        if run.get("flops_per_token"):
            achieved = run["flops_per_token"] * run["train_tokens_per_s"] / 1e9
            run["achieved_gflops"] = achieved
            run["roofline_fraction"] = achieved / record["ceiling"]["native_gflops"]
        else:
            run["roofline_fraction"] = None
        runs[name] = run
        print(json.dumps({k: v for k, v in run.items() if k != "inference"}), flush=True)
    record["runs"] = runs
    if args.skip_tta:
        record["time_to_accuracy"] = previous.get("time_to_accuracy")
    else:
        record["time_to_accuracy"] = _in_child(["tta", str(args.threads), str(args.tta_epochs)])
    return record


def _fmt(value: Any, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def render_markdown(record: dict[str, Any]) -> str:
    ceiling = record["ceiling"]
    lines = [
        f"{record['cpu']} ({record['machine']}), {record['threads']} threads, torch {record['torch']}, "
        f"{record['date']}. GEMM ceiling: fp32 {ceiling['fp32_gflops']:,.0f} GFLOP/s, bf16 "
        f"{ceiling['bf16_gflops']:,.0f} GFLOP/s (native {ceiling['native_precision']}). Training: batch 64, "
        f"{record['steps']} steps of a real run, the first {record['warmup_steps']} not timed; precision "
        "`auto` (bf16 autocast where native). Peak RSS: the whole training process (data, model, steps, "
        "validation and test evaluation).",
        "",
        "| model | shape | train tok/s | FLOPs/token | GEMM ceiling reached | peak RSS (MB) "
        "| infer tok/s b1 / b64 (bf16) | ms/text b1 / b64 (bf16) | ms/text b1 / b64 (fp32) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in record["runs"].values():
        inf = run["inference"]
        roof = run.get("roofline_fraction")
        env = " ".join(f"{k}={v}" for k, v in (run.get("environment") or {}).items())
        flops = run.get("flops_per_token")
        lines.append(
            f"| `{run['model']}`{f' (`{env}`)' if env else ''} | {SHAPES[run['shape']]['label']} "
            f"| {_fmt(run.get('train_tokens_per_s'))} "
            f"| {'-' if not flops else f'{flops / 1e6:.2f}M'} "
            f"| {'-' if roof is None else f'{100 * roof:.0f}%'} | {_fmt(run['peak_rss_mb'])} "
            f"| {_fmt(inf['bf16_batch1']['infer_tokens_per_s'])} / {_fmt(inf['bf16_batch64']['infer_tokens_per_s'])} "
            f"| {inf['bf16_batch1']['ms_per_text']:.2f} / {inf['bf16_batch64']['ms_per_text']:.2f} "
            f"| {inf['fp32_batch1']['ms_per_text']:.2f} / {inf['fp32_batch64']['ms_per_text']:.2f} |"
        )
    tta = record.get("time_to_accuracy")
    if tta:
        passed = tta.get("wave_nb_passed")
        lines += [
            "",
            f"Time to accuracy, IMDB (512 tokens): TF-IDF + LinearSVC fits in {tta['tfidf_fit_s']:.1f} s "
            f"(test accuracy {100 * tta['tfidf_test_accuracy']:.2f}%). ",
        ]
        if passed:
            lines[-1] += (
                f"`wave-nb` passes it after {passed['epoch']:.1f} epochs: {passed['train_seconds']:.0f} s of training "
                f"steps ({tta['train_seconds_ratio']:.1f}x TF-IDF's fit), {passed['wall_seconds']:.0f} s of wall "
                f"clock with validation ({tta['wall_seconds_ratio']:.1f}x); test accuracy "
                f"{100 * passed['test_accuracy']:.2f}%."
            )
        else:
            best = max((p["test_accuracy"] for p in tta["wave_nb_probes"]), default=None)
            lines[-1] += f"`wave-nb` did not pass it within {tta['max_epochs']} epochs (best probe {best})."
    lines += ["", f"Command: `python {record['command']}`"]
    if record.get("partial_rerun"):
        lines[-1] += (
            " (a partial re-run of those rows; the other rows and the GEMM ceiling come from the last full run, "
            "`python benchmarks/efficiency.py`, on the same machine)"
        )
    return "\n".join(lines) + "\n"


def plot(record: dict[str, Any], path: Path) -> None:
    """Training throughput and peak memory per run, each bar in its model's colour."""
    from wave_network.reporting import log_axis, model_styles, new_figure

    names = list(record["runs"])
    styles = model_styles(record["runs"][n]["model"] for n in names)
    colors = [styles[record["runs"][n]["model"]].color for n in names]
    fig = new_figure((12, 4.5), dpi=120)
    axes = fig.subplots(1, 2)
    speeds = [record["runs"][n].get("train_tokens_per_s") or 0 for n in names]
    memory = [record["runs"][n]["peak_rss_mb"] for n in names]
    axes[0].barh(names, speeds, color=colors, edgecolor="#333333", linewidth=0.5)
    log_axis(axes[0], "x")
    axes[0].set_xlabel("training tokens/s (log)")
    axes[1].barh(names, memory, color=colors, edgecolor="#333333", linewidth=0.5)
    axes[1].set_xlabel("peak RSS of the training process (MB)")
    for ax in axes:
        ax.invert_yaxis()
    axes[1].set_yticklabels([])
    fig.suptitle(f"{record['cpu']}, {record['threads']} threads")
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60, help="optimiser steps of each training run")
    parser.add_argument("--warmup", type=int, default=10, help="first steps not timed")
    parser.add_argument("--tta-epochs", type=int, default=6, help="epochs wave-nb gets to pass TF-IDF")
    parser.add_argument("--skip-tta", action="store_true", help="keep the time-to-accuracy of the last run")
    parser.add_argument(
        "--only", nargs="*", help="re-measure only these runs (model@shape); keep the others and their ceiling"
    )
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--out-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "run":
            model, shape, steps, warmup, threads = rest
            _child_run(model, shape, int(steps), int(warmup), int(threads), args.out_file)
        else:
            threads, epochs = rest
            _child_tta(int(threads), int(epochs), args.out_file)
        return
    if args.render_only:
        record = json.loads(OUTPUT.read_text())
    else:
        record = measure(args)
        OUTPUT.write_text(json.dumps(record, indent=2) + "\n")
    OUTPUT.with_suffix(".md").write_text(render_markdown(record))
    plot(record, OUTPUT.with_suffix(".png"))
    print(render_markdown(record))


if __name__ == "__main__":
    main()
