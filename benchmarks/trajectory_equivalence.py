"""Does a change alter what a model computes? Train the same model on the same batches, from the same seed, with
two checkouts of this repository, and compare the training losses step by step.

    git worktree add /tmp/before 7390e5e       # the commit before the efficiency work (issue 17)
    python benchmarks/trajectory_equivalence.py /tmp/before . --model paper-modulation --precision fp32

Dropout is set to 0 (the two checkouts may draw their masks differently), one thread, AG News subset at 128 tokens,
AdamW with gradient clipping as in training. Each checkout runs in its own process. Writes
benchmarks/results/trajectory_equivalence_<model>_<precision>.json and prints the largest loss difference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, torch
sys.path.insert(0, sys.argv[1] + "/src")
from wave_network import data as wn
from wave_network.registry import create_model
from wave_network.training.optim import build_optimizer, clip_gradients
torch.set_num_threads(1)
model_name, precision, steps = sys.argv[2], sys.argv[3], int(sys.argv[4])
cfg = wn.DataConfig(dataset="ag_news", max_length=128)
tokenizer = wn.get_tokenizer(None)
data = wn.tokenize_splits(wn.load_splits(cfg), tokenizer, 128)
torch.manual_seed(0)
model = create_model(model_name, num_labels=len(data.label_names), vocab_size=len(tokenizer), dropout=0.0)
if getattr(model, "ngram_bag", None) is not None:
    model.fit_text_statistics(data.train["input_ids"], list(data.train["labels"]))
optimizer = build_optimizer(model, 1e-3, 0.01)
loader = wn.make_dataloader(data.train, 64, shuffle=True, seed=0, pad_token_id=data.pad_token_id)
losses = []
for step, batch in enumerate(loader):
    if step == steps:
        break
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    out.loss.backward()
    clip_gradients([p for p in model.parameters() if p.grad is not None], 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    losses.append(out.loss.item())
print(json.dumps(losses))
"""


def losses(checkout: Path, model: str, precision: str, steps: int) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(checkout.resolve()), model, precision, str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--model", default="paper-modulation")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    before = losses(args.before, args.model, args.precision, args.steps)
    after = losses(args.after, args.model, args.precision, args.steps)
    diff = max(abs(a - b) for a, b in zip(before, after, strict=True))
    record = {
        "model": args.model,
        "precision": args.precision,
        "steps": args.steps,
        "max_abs_loss_difference": diff,
        "losses_before": before,
        "losses_after": after,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
    }
    out = ROOT / "benchmarks" / "results" / f"trajectory_equivalence_{args.model}_{args.precision}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{args.model}, {args.precision}, {args.steps} steps: largest training-loss difference {diff:.3g}")


if __name__ == "__main__":
    main()
