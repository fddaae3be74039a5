"""Length-bucketed batches, dynamic padding, epoch order and the rank-sharding contract that DDP relies on."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch

from wave_network.data import LengthGroupedBatchSampler, make_dataloader, pad_batch

PAD = 0


def lengths(n: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 500, size=n)


def epoch_batches(sampler: LengthGroupedBatchSampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


def padding_fraction(batches: list[list[int]], sizes: np.ndarray) -> float:
    padded = sum(len(b) * sizes[b].max() for b in batches)
    return 1 - sizes.sum() / padded


def test_bucketed_batches_hold_similar_lengths():
    sizes = lengths()
    bucketed = list(LengthGroupedBatchSampler(sizes, 16, shuffle=True, seed=0))
    plain = list(LengthGroupedBatchSampler(sizes, 16, shuffle=True, seed=0, group_by_length=False))
    assert padding_fraction(bucketed, sizes) < 0.05 < 0.4 < padding_fraction(plain, sizes)
    first = bucketed[0]
    assert sizes[first].max() == sizes.max()  # the longest batch comes first: an OOM shows at step one


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("n", [1000, 37, 1])
def test_every_example_exactly_once_per_epoch(shuffle, n):
    sampler = LengthGroupedBatchSampler(lengths(n), 16, shuffle=shuffle, seed=3)
    for epoch in range(3):
        batches = epoch_batches(sampler, epoch)
        assert sorted(i for b in batches for i in b) == list(range(n))
        assert len(batches) == len(sampler) == -(-n // 16)
        assert all(len(b) == 16 for b in batches[:-1] if shuffle is False)


def test_order_changes_per_epoch_and_repeats_for_same_seed_and_epoch():
    sizes = lengths()
    a = LengthGroupedBatchSampler(sizes, 16, shuffle=True, seed=7)
    b = LengthGroupedBatchSampler(sizes, 16, shuffle=True, seed=7)
    c = LengthGroupedBatchSampler(sizes, 16, shuffle=True, seed=8)
    assert epoch_batches(a, 0) != epoch_batches(a, 1)
    assert epoch_batches(a, 1) == epoch_batches(b, 1)
    assert epoch_batches(a, 0) != epoch_batches(c, 0)


def test_evaluation_order_is_fixed_and_longest_first():
    sizes = lengths(100)
    sampler = LengthGroupedBatchSampler(sizes, 10, shuffle=False)
    flat = [i for batch in epoch_batches(sampler, 0) for i in batch]
    assert epoch_batches(sampler, 5) == epoch_batches(sampler, 0)
    assert list(sizes[flat]) == sorted(sizes, reverse=True)
    in_order = LengthGroupedBatchSampler(sizes, 10, shuffle=False, group_by_length=False)
    assert [i for batch in in_order for i in batch] == list(range(100))


def test_drop_last_drops_only_the_short_batch():
    sampler = LengthGroupedBatchSampler(lengths(37), 16, shuffle=True, seed=0, drop_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 2 and all(len(b) == 16 for b in batches)


@pytest.mark.parametrize("world_size", [2, 3, 4])
@pytest.mark.parametrize(("n", "drop_last"), [(960, False), (1000, True), (1000, False), (2, False), (1, False)])
def test_rank_shards_interleave_into_the_single_process_global_batch(world_size, n, drop_last):
    sizes, per_rank = lengths(n, seed=world_size), 8
    global_sampler = LengthGroupedBatchSampler(sizes, per_rank * world_size, shuffle=True, seed=5, drop_last=drop_last)
    ranks = [
        LengthGroupedBatchSampler(
            sizes, per_rank, shuffle=True, seed=5, rank=r, world_size=world_size, drop_last=drop_last
        )
        for r in range(world_size)
    ]
    for epoch in (0, 1):
        expected = epoch_batches(global_sampler, epoch)
        shards = [epoch_batches(s, epoch) for s in ranks]
        assert len({len(s) for s in shards}) == 1 and all(len(s) == len(r) for s, r in zip(shards, ranks, strict=True))
        for b, global_batch in enumerate(expected):
            parts = [shard[b] for shard in shards]
            assert len({len(p) for p in parts}) == 1  # equal-size shards
            interleaved = [parts[j % world_size][j // world_size] for j in range(world_size * len(parts[0]))]
            if len(global_batch) % world_size == 0:
                assert interleaved == global_batch
            else:  # last batch topped up with < world_size repeats of the epoch's first examples
                assert interleaved[: len(global_batch)] == global_batch
                assert len(interleaved) - len(global_batch) < world_size
        seen = [i for shard in shards for batch in shard for i in batch]
        if not drop_last and n % world_size == 0:
            assert sorted(seen) == list(range(n))  # disjoint and complete


def test_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rank=2"):
        LengthGroupedBatchSampler([1, 2], 1, shuffle=False, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size=0"):
        LengthGroupedBatchSampler([1, 2], 0, shuffle=False)


def test_pad_batch_pads_to_the_batch_maximum_only():
    rows = [
        {"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "token_type_ids": [0, 0, 1], "labels": 1},
        {"input_ids": [8], "attention_mask": [1], "token_type_ids": [0], "labels": 0},
    ]
    batch = pad_batch(rows, pad_token_id=PAD)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, PAD, PAD]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 1], [0, 0, 0]]
    assert batch["labels"].tolist() == [1, 0]
    assert all(t.dtype == torch.long for t in batch.values())


def test_make_dataloader_yields_dynamically_padded_long_tensors():
    rng = np.random.default_rng(0)
    ids = [list(rng.integers(1000, 2000, size=int(k))) for k in rng.integers(2, 60, size=203)]
    ds = datasets.Dataset.from_dict(
        {
            "input_ids": ids,
            "attention_mask": [[1] * len(x) for x in ids],
            "token_type_ids": [[0] * len(x) for x in ids],
            "labels": [i % 4 for i in range(len(ids))],
            "length": [len(x) for x in ids],
        }
    )
    loader = make_dataloader(ds, 16, shuffle=True, seed=1, pad_token_id=PAD, world_size=2, rank=1, drop_last=True)
    assert len(loader) == 203 // 32
    loader.set_epoch(3)
    expected = list(loader.batch_sampler)
    for batch, indices in zip(loader, expected, strict=True):
        assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
        assert all(t.dtype == torch.long for t in batch.values())
        assert batch["input_ids"].shape == (16, max(len(ids[i]) for i in indices))
        assert batch["attention_mask"].sum(1).tolist() == [len(ids[i]) for i in indices]
        assert batch["labels"].tolist() == [i % 4 for i in indices]
