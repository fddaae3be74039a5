"""Forward+backward speed of one wave layer: closed form (wave_network.ops) against the literal atan2/exp complex
version of the paper's equations (tests/wave_reference.py), on the same projections and inputs.

Two timings: the wave operations alone (Token2Wave of both variants, modulation, read-out: the headline `speedup`)
and the whole WaveMixing layer including its two D x D projections, which both versions share.

Writes benchmarks/results/wave_ops_speed.json. Usage:

    python benchmarks/wave_ops_speed.py [--batch 64 --tokens 128 --width 768 --repeats 5 --threads N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from wave_network import WaveConfig, ops  # noqa: E402
from wave_network.layers import WaveMixing  # noqa: E402
from wave_reference import reference_modulation, reference_token2wave  # noqa: E402


def literal_mixing(layer: WaveMixing, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The same layer computed as the paper writes it: atan2 phase, exp to a complex64 wave, complex product."""
    za = reference_token2wave(layer.proj_a(x), mask)  # complex (B, T, D)
    zb = reference_token2wave(layer.proj_b(x), mask)
    return reference_modulation(za, zb).real  # (B, T, D)


def closed_mixing(layer: WaveMixing, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return layer(x, mask)


def closed_ops_only(a, b, mask):
    return ops.modulation_real(ops.token2wave(a, mask), ops.token2wave(b, mask))


def literal_ops_only(a, b, mask):
    return reference_modulation(reference_token2wave(a, mask), reference_token2wave(b, mask)).real


def time_fn(fn, inputs, repeats: int) -> list[float]:
    times = []
    for i in range(repeats + 1):
        for t in inputs:
            t.grad = None
        start = time.perf_counter()
        fn().sum().backward()
        elapsed = time.perf_counter() - start
        if i > 0:  # the first run warms up allocators and kernels
            times.append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "wave_ops_speed.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    B, T, D = args.batch, args.tokens, args.width
    layer = WaveMixing(WaveConfig(hidden_size=D, wave_mode="modulation", readout="real"))
    x = torch.randn(B, T, D, requires_grad=True)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[:, T * 3 // 4 :] = 0  # a quarter of padding, as in a real bucketed batch
    a = torch.randn(B, T, D, requires_grad=True)
    b = torch.randn(B, T, D, requires_grad=True)
    params = [x, *layer.parameters()]

    def run(fn, inputs, *fn_args):
        return statistics.median(time_fn(lambda: fn(*fn_args), inputs, args.repeats))

    layer_closed = run(closed_mixing, params, layer, x, mask)
    layer_literal = run(literal_mixing, params, layer, x, mask)
    ops_closed = run(closed_ops_only, [a, b], a, b, mask)
    ops_literal = run(literal_ops_only, [a, b], a, b, mask)
    result = {
        "benchmark": "wave_ops_speed",
        "description": "median forward+backward seconds; modulation with the real-part read-out, fp32",
        "shape": {"batch": B, "tokens": T, "width": D},
        "device": "cpu",
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "layer": {
            "what": "two D x D projections + Token2Wave + modulation + read-out (one WaveMixing layer)",
            "closed_form_s": layer_closed,
            "literal_complex_s": layer_literal,
            "speedup": layer_literal / layer_closed,
        },
        "wave_ops": {
            "what": "Token2Wave x2 + modulation + read-out, without the shared projections",
            "closed_form_s": ops_closed,
            "literal_complex_s": ops_literal,
            "speedup": ops_literal / ops_closed,
        },
        # Headline: the wave operations, the only part the two versions compute differently. The projections are
        # the same matmuls in both, so the whole-layer ratio ("layer") is diluted by work that is not compared.
        "closed_form_s": ops_closed,
        "literal_complex_s": ops_literal,
        "speedup": ops_literal / ops_closed,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    args.output.with_suffix(".md").write_text(markdown(result))
    print(json.dumps(result, indent=2))


def markdown(result: dict) -> str:
    shape = result["shape"]
    lines = [
        f"Forward+backward, batch {shape['batch']} x {shape['tokens']} tokens x width {shape['width']}, fp32, "
        f"{result['device']} ({result['threads']} threads, torch {result['torch']}), median of {result['repeats']}.",
        "",
        "| what is timed | closed form (s) | literal atan2/exp complex (s) | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for key in ("wave_ops", "layer"):
        row = result[key]
        lines.append(
            f"| {row['what']} | {row['closed_form_s']:.3f} | {row['literal_complex_s']:.3f} | {row['speedup']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
