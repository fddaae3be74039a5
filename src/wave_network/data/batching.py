"""Length-bucketed batches with dynamic padding, for one process or for each rank of a data-parallel job.

Batch order (``LengthGroupedBatchSampler``), for one epoch, computed identically on every rank:

1. With ``shuffle``, permute all example indices with ``numpy.random.default_rng((seed, epoch))``; otherwise
   keep them in order.
2. With ``group_by_length``, cut that order into chunks of ``BUCKET_BATCHES`` global batches and sort each
   chunk by length, longest first (stable), so a batch holds examples of similar length and padding stays
   small. Without ``shuffle`` the whole data set is sorted instead (evaluation: fewest pad tokens, same order
   every time).
3. Cut into global batches of ``G = batch_size * world_size`` examples; with ``drop_last`` the last, smaller
   one is dropped.
4. With ``shuffle``, shuffle the order of the global batches (same generator), then move the batch holding the
   longest example to the front, so an out-of-memory error shows at the first step rather than hours later.
5. When ``world_size > 1`` and the smaller batch was kept, top it up to a multiple of ``world_size`` with the
   first examples of the epoch's order (at most ``world_size - 1`` repeats, as ``torch``'s
   ``DistributedSampler`` does), so every rank gets the same number of equally sized batches. Evaluation under
   DDP should therefore gather per-example results by index (``list(loader.batch_sampler)``) or use a data set
   size divisible by ``world_size``; training is unaffected in practice.

Rank sharding: rank ``r`` receives ``global_batch[r::world_size]`` of every global batch. So per-rank
batch ``b`` of all ranks together is global batch ``b`` of a ``world_size=1`` sampler with batch size ``G``
and the same seed, epoch and data; interleaving them rank-minor (position ``j`` of the global batch is
position ``j // world_size`` of rank ``j % world_size``) restores its exact order. Strided (not contiguous)
shards give every rank a similar mix of lengths, so no rank waits on the longest examples.

Padding (``pad_batch``) is to the longest example of each batch, never to ``max_length``. ``MaskingCollator`` pads
the same way and then masks tokens for pre-training (``wave-network pretrain``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from ..problem_types import IGNORE_INDEX
from .columns import column_array

# Chunk size for length grouping, in global batches: large enough that batches within a chunk have similar
# lengths, small enough that batch composition still changes from epoch to epoch (Hugging Face's
# LengthGroupedSampler uses 50 as well).
BUCKET_BATCHES = 50
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "labels")


def pad_batch(rows: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Stack unpadded examples into (B, T) long tensors, T the longest example; ``labels`` (B,) long, or
    float32 when the labels are floats (regression). Padding is on the right: ``pad_token_id`` ids, mask 0,
    type 0."""
    lengths = [len(row["input_ids"]) for row in rows]
    shape = (len(rows), max(lengths))  # (B, T)
    input_ids = np.full(shape, pad_token_id, dtype=np.int64)
    attention_mask = np.zeros(shape, dtype=np.int64)
    token_type_ids = np.zeros(shape, dtype=np.int64)
    for i, (row, n) in enumerate(zip(rows, lengths, strict=True)):
        input_ids[i, :n] = row["input_ids"]
        attention_mask[i, :n] = row["attention_mask"] if "attention_mask" in row else 1
        if "token_type_ids" in row:
            token_type_ids[i, :n] = row["token_type_ids"]
    batch = {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(attention_mask),
        "token_type_ids": torch.from_numpy(token_type_ids),
    }
    if "labels" in rows[0]:
        labels = [row["labels"] for row in rows]
        dtype = torch.float32 if isinstance(labels[0], float) else torch.long
        batch["labels"] = torch.tensor(labels, dtype=dtype)
    return batch


@dataclass(frozen=True)
class PadCollator:
    """``collate_fn`` padding each batch to its longest example (see ``pad_batch``)."""

    pad_token_id: int

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return pad_batch(rows, self.pad_token_id)


@dataclass(frozen=True)
class MaskingCollator:
    """``collate_fn`` for the masked-token objective (BERT, Devlin et al. 2019, section 3.1): pads like ``pad_batch``,
    then chooses each real token other than ``special_ids`` with probability ``mask_prob`` (at least one per text
    that has a maskable token), sets its label to its id (``IGNORE_INDEX`` everywhere else) and replaces it with
    ``mask_token_id`` (80%), a random id of the vocabulary (10%) or itself (10%).

    ``fixed_seed``: draw the masks from a generator seeded by this number and the batch's token ids, so the same
    batch gets the same masks every time (validation: a comparable loss from one evaluation to the next). ``None``:
    from torch's global generator (training: new masks every epoch, repeatable from the run's seed and resumed
    with its RNG state). The batch's ``labels`` of the data set, if any, are replaced."""

    pad_token_id: int
    mask_token_id: int
    vocab_size: int
    special_ids: tuple[int, ...]
    mask_prob: float = 0.15
    fixed_seed: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_prob < 1.0:
            raise ValueError(f"MaskingCollator.mask_prob must be in (0, 1), got {self.mask_prob}")

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = pad_batch([{k: v for k, v in row.items() if k != "labels"} for row in rows], self.pad_token_id)
        ids = batch["input_ids"]  # (B, T)
        generator = None
        if self.fixed_seed is not None:
            generator = torch.Generator().manual_seed(zlib.crc32(ids.numpy().tobytes(), self.fixed_seed))
        maskable = batch["attention_mask"].bool() & ~torch.isin(ids, torch.tensor(self.special_ids))  # (B, T)
        scores = torch.rand(ids.shape, generator=generator)  # (B, T)
        chosen = maskable & (scores < self.mask_prob)
        # A text whose draw chose nothing gets its lowest-scoring maskable token: every text contributes.
        lowest = scores.masked_fill(~maskable, 2.0).argmin(dim=1, keepdim=True)  # (B, 1)
        none = ~chosen.any(dim=1, keepdim=True) & maskable.any(dim=1, keepdim=True)
        chosen |= torch.zeros_like(chosen).scatter_(1, lowest, none)
        labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
        action = torch.rand(ids.shape, generator=generator)  # < 0.8: [MASK], < 0.9: a random id, else kept
        random_ids = torch.randint(self.vocab_size, ids.shape, generator=generator)
        masked = torch.where(chosen & (action < 0.8), torch.full_like(ids, self.mask_token_id), ids)
        masked = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, masked)
        return batch | {"input_ids": masked, "labels": labels}


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Batches of indices grouped by length; see the module docstring for the exact order and rank sharding.

    Args:
        lengths: tokens per example.
        batch_size: examples per batch on this rank.
        shuffle: new order every epoch (training); otherwise longest-first, the same every epoch (evaluation).
        seed: with ``set_epoch``, decides the order.
        rank, world_size: this process's shard of every global batch of ``batch_size * world_size`` examples.
        drop_last: drop the last global batch when it is smaller than ``batch_size * world_size``.
        group_by_length: sort by length within chunks; ``False`` keeps the (shuffled or dataset) order.
        bucket_batches: chunk size for length grouping, in global batches.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        group_by_length: bool = True,
        bucket_batches: int = BUCKET_BATCHES,
    ) -> None:
        for name, value in (
            ("batch_size", batch_size),
            ("world_size", world_size),
            ("bucket_batches", bucket_batches),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}; expected an integer >= 1")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"rank={rank!r}; expected an integer in [0, world_size={world_size})")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.group_by_length, self.bucket_batches = group_by_length, bucket_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` from the next iteration on (call before every epoch when shuffling)."""
        self.epoch = epoch

    @property
    def global_batch_size(self) -> int:
        """Examples per step summed over ranks."""
        return self.batch_size * self.world_size

    def global_batches(self) -> list[np.ndarray]:
        """This epoch's global batches (index arrays), before rank sharding."""
        n, size = len(self.lengths), self.global_batch_size
        rng = np.random.default_rng((self.seed % 2**63, self.epoch))
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        if self.group_by_length and self.shuffle:
            chunk = size * self.bucket_batches
            pieces = [order[i : i + chunk] for i in range(0, n, chunk)]
            order = np.concatenate([p[np.argsort(-self.lengths[p], kind="stable")] for p in pieces] or [order])
        elif self.group_by_length:
            order = np.argsort(-self.lengths, kind="stable")
        batches = [order[i : i + size] for i in range(0, n, size)]
        if batches and len(batches[-1]) < size and self.drop_last:
            batches.pop()
        if self.shuffle and batches:
            batches = [batches[i] for i in rng.permutation(len(batches))]
            if self.group_by_length:
                longest = int(np.argmax([self.lengths[b].max() for b in batches]))
                batches[0], batches[longest] = batches[longest], batches[0]
        for i, batch in enumerate(batches):
            if len(batch) % self.world_size:  # only the one short batch; never when world_size == 1
                batches[i] = np.concatenate([batch, np.resize(order, -len(batch) % self.world_size)])
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.global_batches():
            yield batch[self.rank :: self.world_size].tolist()

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.global_batch_size)
        return full + (1 if rest and not self.drop_last else 0)


class BucketedDataLoader(DataLoader):
    """A ``DataLoader`` over a ``LengthGroupedBatchSampler``; ``set_epoch`` reaches the sampler."""

    def set_epoch(self, epoch: int) -> None:
        """Call before every epoch: the batch order depends on ``(seed, epoch)``."""
        self.batch_sampler.set_epoch(epoch)


def make_dataloader(
    dataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    pad_token_id: int,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
    group_by_length: bool = True,
    num_workers: int = 0,
    pin_memory: bool = False,
    collate_fn: Any = None,
) -> BucketedDataLoader:
    """A loader of padded batches from a tokenized split (``TokenizedSplits.train`` ...).

    Args:
        dataset: a ``datasets.Dataset`` with ``input_ids`` and optionally ``attention_mask``,
            ``token_type_ids``, ``labels`` and ``length`` (computed from ``input_ids`` when absent).
        batch_size: examples per batch on this rank (the global batch is ``batch_size * world_size``).
        shuffle, seed, rank, world_size, drop_last, group_by_length: see ``LengthGroupedBatchSampler``.
        pad_token_id: the tokenizer's pad id (``TokenizedSplits.pad_token_id``).
        num_workers, pin_memory: as for ``torch.utils.data.DataLoader``.
        collate_fn: turns the rows of a batch into tensors; ``None``: ``PadCollator(pad_token_id)``
            (``MaskingCollator`` for pre-training).

    Each batch is a dict of tensors: ``input_ids``, ``attention_mask``, ``token_type_ids`` (B, T) long and
    ``labels`` (B,) long (float32 for regression). ``loader.set_epoch(epoch)`` must be called before each
    epoch for a new order; ``list(loader.batch_sampler)`` gives the dataset indices of each batch (to map
    predictions back).
    """
    if "length" in dataset.column_names:
        lengths = column_array(dataset, "length")
    else:
        lengths = np.array([len(ids) for ids in dataset["input_ids"]])
    columns = [c for c in MODEL_INPUTS if c in dataset.column_names]
    sampler = LengthGroupedBatchSampler(
        lengths,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        rank=rank,
        world_size=world_size,
        drop_last=drop_last,
        group_by_length=group_by_length,
    )
    return BucketedDataLoader(
        dataset.select_columns(columns).with_format(None),
        batch_sampler=sampler,
        collate_fn=collate_fn if collate_fn is not None else PadCollator(pad_token_id),
        num_workers=num_workers,
        pin_memory=pin_memory,
    )
