"""``wave-network pretrain``: masked-token pre-training of a Wave preset's wave path on unlabelled text, through the
one training loop, then ``train --init-from RUN_DIR`` to fine-tune a classifier from it.

The proof-of-life of the Wave Network (REFERENCE.md) asks whether pre-training closes the gap with BERT on the
sentence-pair tasks. This is the offline, in-domain version of that question: the corpus is the training texts of
the data sets here (``data.corpus``), never a validation, dev or test text, so a fine-tuned model's result is
labelled "pre-trained (in-domain, this corpus)", apart from the from-scratch rows.

The run directory is a training run's (``config.json``, ``run.yaml``, ``metrics.jsonl``, ``best/``, ``last/``,
``results.json``; see ``training.rundir``) plus ``pretrain.json``, this configuration. Its ``best/`` is the
checkpoint of lowest validation masked-token loss, a ``WaveForMaskedLM`` that ``AutoModelForMaskedLM`` loads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .data import DataConfig, get_tokenizer
from .data.config import DEFAULT_TOKENIZER
from .data.corpus import PRETRAINING_DATASETS, pretraining_corpus
from .presets import list_presets
from .training import RunResult, TrainConfig, train

PRETRAIN_CONFIG = "pretrain.json"


@dataclass
class PretrainConfig:
    """One pre-training run.

    Args:
        model: the Wave preset whose wave path is pre-trained (fine-tune with the same preset and overrides).
        model_overrides: ``WaveConfig`` fields to change, e.g. ``{"num_layers": 2}``.
        datasets: the data sets whose training texts form the corpus (``data.corpus.PRETRAINING_DATASETS``: every
            one in ``../shared/data`` with a training split).
        data_dir, cache_dir: where the data sets are read and cached (as ``DataConfig``'s).
        tokenizer: the tokenizer, hence the model's vocabulary (the fine-tuning runs must use the same).
        data_val_fraction: the fine-tuning runs' ``DataConfig.val_fraction``.
        holdout_seeds: seeds of the fine-tuning runs to come; their validation texts are left out.
        max_length: tokens per window ([CLS] and [SEP] included); longer texts are cut into several windows.
        mask_prob: share of tokens masked (BERT's 15%: 80% [MASK], 10% a random token, 10% kept).
        corpus_val_fraction: share of the corpus's texts held out to select the checkpoint (masked-token loss).
        max_texts: use this many texts of the shuffled corpus (quick runs); ``None``: all.
        learning_rate, epochs, batch_size, warmup_ratio, weight_decay: the optimisation (AdamW, linear warm-up
            then decay, as every run).
        eval_every_steps: also validate every this many steps (``None``: once per epoch).
        seed, precision, device, num_threads, compile, max_steps, output_dir, resume, quiet: as ``TrainConfig``.
    """

    model: str = "wave-wide"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    datasets: tuple[str, ...] = PRETRAINING_DATASETS
    data_dir: str | None = None
    cache_dir: str | None = None
    tokenizer: str = DEFAULT_TOKENIZER
    data_val_fraction: float = 0.2
    holdout_seeds: tuple[int, ...] = (42, 43, 44)
    max_length: int = 128
    mask_prob: float = 0.15
    corpus_val_fraction: float = 0.01
    max_texts: int | None = None
    learning_rate: float = 1e-3
    epochs: int = 1
    batch_size: int = 128
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    eval_every_steps: int | None = None
    seed: int = 42
    precision: str = "auto"
    device: str = "auto"
    num_threads: int | None = None
    compile: bool = True
    max_steps: int | None = None
    output_dir: str | None = None
    resume: bool = False
    quiet: bool = False

    def __post_init__(self) -> None:
        self.datasets = tuple(self.datasets)
        self.holdout_seeds = tuple(int(s) for s in self.holdout_seeds)
        if self.model not in list_presets():
            raise ValueError(
                f"PretrainConfig.model={self.model!r}: pre-training needs a Wave preset, one of "
                f"{', '.join(list_presets())}"
            )
        if not self.datasets:
            raise ValueError("PretrainConfig.datasets: name at least one data set")
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"PretrainConfig.mask_prob={self.mask_prob!r}; expected a number in (0, 1)")
        if self.resume and self.output_dir is None:
            raise ValueError("PretrainConfig.resume needs PretrainConfig.output_dir (the run directory to continue)")

    def train_config(self) -> TrainConfig:
        """The ``TrainConfig`` the one training loop runs: no label smoothing, no early stopping (the loss
        selects the checkpoint)."""
        return TrainConfig(
            model=self.model,
            model_overrides=dict(self.model_overrides),
            data=DataConfig(
                dataset="pretraining-corpus",
                tokenizer=self.tokenizer,
                max_length=self.max_length,
                seed=self.seed,
                cache_dir=self.cache_dir,
            ),
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            weight_decay=self.weight_decay,
            warmup_ratio=self.warmup_ratio,
            label_smoothing=0.0,
            eval_every_steps=self.eval_every_steps,
            seed=self.seed,
            precision=self.precision,
            device=self.device,
            num_threads=self.num_threads,
            compile=self.compile,
            max_steps=self.max_steps,
            output_dir=self.output_dir,
            resume=self.resume,
            quiet=self.quiet,
        )


def pretrain(cfg: PretrainConfig) -> RunResult:
    """Build the corpus of ``cfg.datasets``' training texts and pre-train ``cfg.model``'s wave path on it with
    the masked-token objective; returns the run (``RunResult.run_dir``: give it to ``TrainConfig.init_from``)."""
    train_cfg = cfg.train_config()
    tokenizer = get_tokenizer(cfg.tokenizer)
    corpus = pretraining_corpus(
        cfg.datasets,
        tokenizer,
        max_length=cfg.max_length,
        val_fraction=cfg.corpus_val_fraction,
        mask_prob=cfg.mask_prob,
        seed=cfg.seed,
        data_dir=cfg.data_dir,
        cache_dir=cfg.cache_dir,
        data_val_fraction=cfg.data_val_fraction,
        holdout_seeds=cfg.holdout_seeds,
        max_texts=cfg.max_texts,
    )
    result = train(train_cfg, data=corpus, tokenizer=tokenizer)
    record = asdict(cfg) | {"corpus": corpus.provenance}
    (Path(result.run_dir) / PRETRAIN_CONFIG).write_text(json.dumps(record, indent=2, default=str) + "\n")
    return result


__all__ = ["PRETRAIN_CONFIG", "PretrainConfig", "pretrain"]
