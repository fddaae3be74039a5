"""Property-based tests (Hypothesis) for the semantics every input must keep: the wave ops ignore padding, follow a
permutation of the tokens and have finite gradients for any finite input; padding a batch never changes a row's
logits; labels are read the same however a file writes them; ``--set`` either passes a value of the field's type
or names the field; a CSV round-trips its texts. Example counts are modest so the default suite stays fast.
``test_fuzz.py`` holds the malformed-file fuzz test."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from wave_network import ops
from wave_network.config_files import parse_overrides as _overrides
from wave_network.configuration_wave import WaveConfig
from wave_network.data import DataConfig, LabelSetError, load_splits, pad_batch
from wave_network.data.labels import canonical, inferred_scheme
from wave_network.modeling_wave import WaveForSequenceClassification
from wave_network.registry import check_model_overrides

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Finite values over many orders of magnitude, zeros and exact repeats included (the sqrt(G^2 - w^2) edge cases).
values = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
    st.sampled_from([0.0, 1.0, -1.0, 1e-6, 1e3]),
)


@st.composite
def texts(draw, max_b=3, max_t=6, max_d=4):
    """(w, mask): B texts of 1..T real tokens each (right padding with arbitrary values), D dimensions, float64."""
    b, t, d = draw(st.integers(1, max_b)), draw(st.integers(1, max_t)), draw(st.integers(1, max_d))
    flat = draw(st.lists(values, min_size=b * t * d, max_size=b * t * d))
    w = torch.tensor(flat, dtype=torch.float64).reshape(b, t, d)
    lengths = draw(st.lists(st.integers(1, t), min_size=b, max_size=b))
    mask = torch.zeros(b, t, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return w, mask


def wave(w, mask):
    """Both mixings of two variants of w (the second scaled and shifted, as a second projection would)."""
    z1, z2 = ops.token2wave(w, mask), ops.token2wave(0.5 * w - 0.25, mask)
    return ops.interference(z1, z2), ops.modulation(z1, z2)


@FAST
@given(texts(), st.integers(1, 4), values)
def test_wave_ops_ignore_padding(case, extra, pad_value):
    w, mask = case
    b, _, d = w.shape
    longer_w = torch.cat([w, torch.full((b, extra, d), pad_value, dtype=w.dtype)], dim=1)
    longer_mask = torch.cat([mask, torch.zeros(b, extra, dtype=mask.dtype)], dim=1)
    real = mask.bool()
    for short, long in zip(wave(w, mask), wave(longer_w, longer_mask), strict=True):
        for a, c in zip(short, long, strict=True):
            torch.testing.assert_close(c[:, : w.shape[1]][real], a[real], rtol=1e-9, atol=1e-9)


@FAST
@given(texts(max_b=1), st.randoms(use_true_random=False))
def test_wave_ops_follow_a_permutation_of_the_tokens(case, rng):
    w, mask = case
    w, mask = w[:, : int(mask.sum())], mask[:, : int(mask.sum())]  # one text, no padding
    perm = list(range(w.shape[1]))
    rng.shuffle(perm)
    # G is a sum over tokens, so each token's wave depends on the others only through G: Z permutes with the tokens.
    for plain, permuted in zip(wave(w, mask), wave(w[:, perm], mask), strict=True):
        for a, c in zip(plain, permuted, strict=True):
            torch.testing.assert_close(c, a[:, perm], rtol=1e-9, atol=1e-9)
    g = ops.global_semantics(w, mask)
    torch.testing.assert_close(ops.magnitude(ops.token2wave(w, mask)), g.expand_as(w), rtol=1e-6, atol=1e-9)


@FAST
@given(texts(), st.sampled_from([torch.float32, torch.float64]))
def test_wave_ops_have_finite_gradients_for_any_finite_input(case, dtype):
    w, mask = case
    w = w.to(dtype).requires_grad_(True)
    interfered, modulated = wave(w, mask)
    loss = sum(part.sum() for part in (*interfered, *modulated)) + ops.magnitude(modulated).sum()
    loss.backward()
    assert torch.isfinite(w.grad).all()


# --- a batch pads each row to its longest companion; a row's logits must not notice -------------------------------

V = 50


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    config = WaveConfig(vocab_size=V, hidden_size=12, ffn_dim=12, num_labels=3, dropout=0.0, pooling="mean")
    model = WaveForSequenceClassification(config).eval()
    with torch.no_grad():  # non-zero biases everywhere, so that a padding leak would show
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.5, 0.5)
    return model


token_rows = st.lists(st.lists(st.integers(1, V - 1), min_size=1, max_size=9), min_size=1, max_size=5)


@SLOW
@given(rows=token_rows)
def test_padding_a_batch_never_changes_a_rows_logits(tiny_model, rows):
    batch = pad_batch([{"input_ids": ids} for ids in rows], pad_token_id=0)
    assert batch["input_ids"].shape == (len(rows), max(map(len, rows)))
    assert batch["attention_mask"].sum(1).tolist() == [len(r) for r in rows]
    with torch.no_grad():
        together = tiny_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        for i, ids in enumerate(rows):
            alone = tiny_model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids))).logits
            torch.testing.assert_close(together[i], alone[0], rtol=1e-5, atol=1e-5)


# --- labels ---------------------------------------------------------------------------------------------------------


@FAST
@given(st.integers(-(10**6), 10**6), st.sampled_from(["", " ", "  "]))
def test_a_whole_number_label_reads_the_same_in_every_spelling(n, space):
    spellings = [n, float(n), str(n), f"{n}.0", f"{space}{n}{space}", f"{n}.00"]
    assert {canonical(s) for s in spellings} == {str(n)}


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1)


@FAST
@given(st.sets(names, min_size=1, max_size=6))
def test_inferred_classes_are_sorted_distinct_and_encode_back(labels):
    labels = {canonical(v) for v in labels}
    assume(len({v.casefold() for v in labels}) == len(labels))  # case-only twins are refused (next test)
    numeric = [v for v in labels if _is_number(v)]
    assume(not numeric or len(numeric) == len(labels))  # mixtures are refused (next test)
    scheme = inferred_scheme(labels, None)
    if scheme.problem_type == "regression":
        assert any(not float(v).is_integer() for v in labels)
        return
    assert len(scheme.names) == len(labels) and len(set(scheme.names)) == len(labels)
    for value in labels:
        assert scheme.names[scheme.encode(value)] == value


@FAST
@given(st.sets(names.filter(lambda s: not _is_number(s.strip()) and s.strip()), min_size=1, max_size=4), st.integers())
@example(labels={"INF"}, number=0)  # once inferred as regression: float("INF") is a number to Python, not to us
def test_labels_mixing_numbers_and_names_or_case_are_refused(labels, number):
    with pytest.raises(LabelSetError, match="mix numbers"):
        inferred_scheme([*labels, str(number)], None)
    word = next(iter(labels)).strip()
    assume(word.upper() != word.lower() and canonical(word.upper()) != canonical(word.lower()))
    assume(word.upper().casefold() == word.lower().casefold())
    with pytest.raises(LabelSetError, match="differ only in case"):
        inferred_scheme([word.upper(), word.lower()], None)


def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# --- --set parsing --------------------------------------------------------------------------------------------------

FIELDS = ["num_layers", "hidden_size", "residual", "dropout", "wave_mode", "ngram_orders", "foo_bar", "num_layer"]


@FAST
@given(st.sampled_from(FIELDS), st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=12))
def test_set_values_pass_with_the_fields_type_or_name_the_field(field, text):
    assume("=" not in field)
    try:
        overrides = _overrides([f"{field}={text}"])
    except Exception as error:  # noqa: BLE001  (a ConfigFileError naming the pair is the only allowed way out)
        assert type(error).__name__ == "ConfigFileError", error
        return
    try:
        check_model_overrides("paper-modulation", overrides, max_length=32)
    except ValueError as error:
        assert f"WaveConfig.{field}" in str(error)
        return
    value = overrides[field]
    expected = {"num_layers": int, "hidden_size": int, "residual": bool, "dropout": (int, float), "wave_mode": str}
    assert isinstance(value, expected.get(field, (list, tuple)))
    assert not (field in ("num_layers", "hidden_size", "dropout") and isinstance(value, bool))


@FAST
@given(st.integers(1, 64), st.booleans(), st.floats(0, 0.99))
def test_valid_set_values_round_trip_through_the_parser(layers, residual, dropout):
    pairs = [f"num_layers={layers}", f"residual={str(residual).lower()}", f"dropout={dropout!r}"]
    overrides = _overrides(pairs)
    assert overrides == {"num_layers": layers, "residual": residual, "dropout": dropout}
    check_model_overrides("paper-modulation", overrides, max_length=32)


# --- readers --------------------------------------------------------------------------------------------------------

cell_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\ufeff"),
    max_size=30,
).map(lambda s: s + " x")  # never empty (empty texts are dropped, tested in test_data_errors.py)


@SLOW
@given(rows=st.lists(st.tuples(cell_text, st.sampled_from(["pos", "neg", "neu"])), min_size=6, max_size=25))
def test_a_csv_round_trips_its_texts_and_labels(tmp_path_factory, rows):
    assume(len({label for _, label in rows}) >= 2)
    path = tmp_path_factory.mktemp("csv") / "train.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    test = path.with_name("test.csv")
    test.write_bytes(path.read_bytes())
    splits = load_splits(DataConfig(dataset="prop", train_file=str(path), test_file=str(test)))
    got = sorted(zip(splits.test["text"], (splits.label_names[i] for i in splits.test["label"]), strict=True))
    assert got == sorted(rows)


# --- every TrainConfig / DataConfig value is checked: a wrong one is a ValueError naming the field ----------------

any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)
TRAIN_FIELDS = [
    "learning_rate", "epochs", "batch_size", "eval_batch_size", "weight_decay", "warmup_ratio", "max_grad_norm",
    "precision", "seed", "deterministic", "compile", "label_smoothing", "early_stopping_patience", "eval_every",
    "eval_every_steps", "log_every", "device", "tracker", "num_threads", "max_steps", "quiet", "model_overrides",
]  # fmt: skip
DATA_FIELDS = ["max_length", "val_fraction", "val_split", "seed", "max_train_samples", "problem_type", "tokenizer"]


@FAST
@given(st.sampled_from(TRAIN_FIELDS + [f"data.{f}" for f in DATA_FIELDS]), any_value)
def test_a_config_value_is_accepted_or_refused_naming_its_field(field, value):
    from wave_network.training import TrainConfig

    try:
        if field.startswith("data."):
            TrainConfig(data=DataConfig(**{field[5:]: value}))
        else:
            TrainConfig(**{field: value})
    except ValueError as error:
        assert f"Config.{field.removeprefix('data.')}" in str(error), str(error)
