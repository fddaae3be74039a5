"""CPU cost of dropout: PyTorch's ``nn.Dropout`` (a ``bernoulli_`` mask) against ``wave_network.layers.Dropout``
(inverted dropout whose mask takes four 15-bit lanes from each 64-bit random draw and is saved as booleans), alone
and inside a whole ``wave-nb`` training step
(forward, backward, gradient clipping and optimiser step under bf16 autocast, the preset's shapes, 4 classes).

Writes benchmarks/results/dropout_speed.{json,md}. Run it with nothing else on the machine. Usage:

    python benchmarks/dropout_speed.py [--batch 64 --tokens 60 --repeats 30 --threads 2]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from efficiency import write_result  # noqa: E402
from wave_network import WaveConfig, WaveForSequenceClassification, get_preset  # noqa: E402
from wave_network.layers import Dropout  # noqa: E402
from wave_network.training.optim import build_optimizer, clip_gradients  # noqa: E402
from wave_ops_speed import time_fn  # noqa: E402


class TorchDropout(nn.Dropout):
    """``nn.Dropout`` that takes the per-call ``inplace`` argument the Wave embeddings pass."""

    def forward(self, x: torch.Tensor, inplace: bool | None = None) -> torch.Tensor:
        return nn.functional.dropout(x, self.p, self.training, bool(inplace))


def training_step_seconds(dropout_cls: type[nn.Module], batch: int, tokens: int, repeats: int) -> float:
    """Median seconds of one wave-nb training step whose dropout layers are ``dropout_cls``."""
    torch.manual_seed(0)
    config = WaveConfig(**get_preset("wave-nb").model, num_labels=4, vocab_size=30522, max_position_embeddings=512)
    model = WaveForSequenceClassification(config).train()
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.Dropout):
                setattr(parent, name, dropout_cls(child.p))
    texts = [torch.randint(1000, 30000, (int(n),)).tolist() for n in torch.randint(20, 100, (2000,))]
    model.fit_text_statistics(texts, torch.randint(0, 4, (2000,)).tolist())
    optimizer = build_optimizer(model, 1e-3, 0.01)
    params = [p for p in model.parameters() if p.requires_grad]
    ids = torch.randint(1000, 30000, (batch, tokens))
    mask, labels = torch.ones_like(ids), torch.randint(0, 4, (batch,))
    times = []
    for i in range(repeats + 3):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        clip_gradients(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i >= 3:  # the first steps warm up allocators and the optimiser state
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "dropout_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    B, T, D = args.batch, args.tokens, get_preset("wave-nb").model["hidden_size"]
    x = torch.randn(B, T, D, requires_grad=True)
    layers = {"torch": TorchDropout(0.3).train(), "wave_network": Dropout(0.3).train()}
    alone = {k: statistics.median(time_fn(lambda m=m: m(x), [x], args.repeats)) for k, m in layers.items()}
    step = {k: training_step_seconds(type(m), B, T, args.repeats) for k, m in layers.items()}
    result = {
        "benchmark": "dropout_speed",
        "description": "median seconds; dropout p=0.3 forward+backward on (batch, tokens, width) fp32, and one "
        "wave-nb training step (bf16 autocast) with either dropout",
        "shape": {"batch": B, "tokens": T, "width": D},
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "dropout_alone_s": alone,
        "training_step_s": step,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
    }
    write_result(args.output, result, markdown)


def markdown(result: dict) -> str:
    shape = result["shape"]
    lines = [
        f"CPU ({result['threads']} threads, torch {result['torch']}), batch {shape['batch']} x {shape['tokens']} "
        f"tokens x width {shape['width']}, median of {result['repeats']}.",
        "",
        "| what is timed | `nn.Dropout` (ms) | `wave_network.layers.Dropout` (ms) | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for key, what in (("dropout_alone_s", "dropout p=0.3, forward+backward"), ("training_step_s", "wave-nb step")):
        torch_s, ours_s = result[key]["torch"], result[key]["wave_network"]
        lines.append(f"| {what} | {1e3 * torch_s:.1f} | {1e3 * ours_s:.1f} | {torch_s / ours_s:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
