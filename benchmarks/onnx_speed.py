"""CPU inference speed of one model three ways: PyTorch fp32, onnxruntime fp32 and onnxruntime int8 (dynamic
quantisation), the last two exported by ``wave_network.export.export_onnx`` (which checks them against PyTorch).

For each: the latency per text at batch 1 (median ms of one call on one text) and the throughput at batch
``--batch`` (tokens per second of the median call), every text exactly the model's max length (real AG News
texts from the bundled sample, joined until they fill it), tokenisation not included. The model is the
``best/`` of ``--run-dir``, or without it an untrained ``--model`` at its preset size with ``--max-length``
(speed does not depend on the weights; nothing is trained). Records the CPU model, the threads of both
runtimes, the versions, the export report's parity figures and the file sizes.

Writes benchmarks/results/onnx_speed.{json,md}. Run it with nothing else on the machine. Usage:

    python benchmarks/onnx_speed.py [--run-dir runs/ag] [--model paper-modulation --max-length 128]
                                    [--batch 64 --threads 2 --repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from efficiency import cpu_name, write_result  # noqa: E402
from wave_network import create_model  # noqa: E402
from wave_network.data import get_tokenizer  # noqa: E402
from wave_network.export import OnnxModel, bundled_parity_set, export_onnx  # noqa: E402
from wave_network.training.inference import load_model  # noqa: E402

BACKENDS = {
    "pytorch-fp32": "PyTorch fp32",
    "onnxruntime-fp32": "onnxruntime fp32",
    "onnxruntime-int8": "onnxruntime int8",
}


def untrained_model_dir(name: str, max_length: int, directory: Path) -> Path:
    """An untrained ``name`` at its preset size with the bundled tokenizer cut to ``max_length``, saved."""
    torch.manual_seed(0)
    tokenizer = get_tokenizer()
    tokenizer.model_max_length = max_length
    model = create_model(name, num_labels=4, vocab_size=len(tokenizer), max_length=max_length)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def full_length_batch(tokenizer: Any, max_length: int, size: int, inputs: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """``size`` texts of exactly ``max_length`` tokens: consecutive sample texts joined until they fill it."""
    texts, _ = bundled_parity_set(400)
    joined, start = [], 0
    while len(joined) < size:
        text = ""
        while len(tokenizer(text, verbose=False)["input_ids"]) < max_length:
            text, start = f"{text} {texts[start % len(texts)]}", start + 1
        joined.append(text)
    encoded = tokenizer(joined, truncation=True, max_length=max_length, return_tensors="pt")
    assert encoded["attention_mask"].shape[1] == max_length and encoded["attention_mask"].all()
    return {name: encoded[name] if name in encoded else torch.zeros_like(encoded["input_ids"]) for name in inputs}


def median_seconds(call: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    """Median wall seconds of ``call`` after ``warmup`` untimed calls (allocators, compiled kernels, sessions)."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=None, help="A run or model directory (default: untrained)")
    parser.add_argument("--model", default="paper-modulation", help="Preset timed untrained without --run-dir")
    parser.add_argument("--max-length", type=int, default=128, help="Max length of the untrained model")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--export-dir", type=Path, default=None, help="Where the ONNX files go (default: temporary)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "onnx_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="onnx-speed-") as tmp:
        source = args.run_dir or untrained_model_dir(args.model, args.max_length, Path(tmp) / "model")
        export_dir = args.export_dir or Path(tmp) / "onnx"
        report = export_onnx(source, export_dir, quantize="int8")
        model, tokenizer = load_model(source)
        model = model.float()
        L = report["max_length"]
        runtimes = {
            "pytorch-fp32": model,
            "onnxruntime-fp32": OnnxModel(export_dir, num_threads=args.threads),
            "onnxruntime-int8": OnnxModel(export_dir, quantized=True, num_threads=args.threads),
        }
        one = full_length_batch(tokenizer, L, 1, tuple(report["inputs"]))
        many = full_length_batch(tokenizer, L, args.batch, tuple(report["inputs"]))
        speed = {}
        with torch.no_grad():
            for name, run in runtimes.items():
                latency = median_seconds(lambda run=run: run(**one), args.repeats)
                batch_s = median_seconds(lambda run=run: run(**many), args.repeats)
                speed[name] = {"ms_per_text_batch1": 1e3 * latency, "tokens_per_s": args.batch * L / batch_s}
        result = {
            "benchmark": "onnx_speed",
            "description": "per-text latency at batch 1 (median ms) and throughput at batch "
            f"{args.batch} (tokens/s of the median call), texts of exactly max_length tokens, tokenisation excluded",
            "model": str(args.run_dir) if args.run_dir else f"{args.model} (untrained)",
            "max_length": L,
            "batch": args.batch,
            "cpu": cpu_name(),
            "precision": {"pytorch-fp32": "fp32", "onnxruntime-fp32": "fp32", "onnxruntime-int8": "int8 (dynamic)"},
            "threads": {"torch": torch.get_num_threads(), "onnxruntime_intra_op": args.threads},
            "versions": report["versions"],
            "repeats": args.repeats,
            "export": {
                key: report[key]
                for key in ("opset", "max_abs_logit_diff", "int8_argmax_agreement", "fp32_bytes", "int8_bytes")
            },
            "speed": speed,
            "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        }
    write_result(args.output, result, markdown)


def markdown(result: dict) -> str:
    export, speed = result["export"], result["speed"]
    sizes = {"pytorch-fp32": None, "onnxruntime-fp32": export["fp32_bytes"], "onnxruntime-int8": export["int8_bytes"]}
    base = speed["pytorch-fp32"]
    lines = [
        f"{result['model']}, {result['max_length']} tokens per text, on {result['cpu']} "
        f"({result['threads']['torch']} threads), median of {result['repeats']}. fp32 ONNX logits within "
        f"{export['max_abs_logit_diff']:.1e} of PyTorch's; int8 argmax agrees on "
        f"{100 * export['int8_argmax_agreement']:.1f}% of the check texts.",
        "",
        f"| runtime | file (MB) | ms per text (batch 1) | tokens/s (batch {result['batch']}) | vs PyTorch (batch "
        f"{result['batch']}) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in BACKENDS.items():
        size = f"{sizes[key] / 1e6:.1f}" if sizes[key] else "-"
        s = speed[key]
        lines.append(
            f"| {label} | {size} | {s['ms_per_text_batch1']:.2f} | {s['tokens_per_s']:,.0f} | "
            f"{s['tokens_per_s'] / base['tokens_per_s']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
