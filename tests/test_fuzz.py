"""Fuzzing the readers with generated malformed files (Hypothesis): random bytes, and valid CSV, TSV, JSON Lines,
gzip and Parquet files with bytes cut, inserted or replaced. Every file either loads or stops with a named
``DataError`` (exit code 2 and a one-line message at the command line); nothing else may escape."""

from __future__ import annotations

import gzip
import io

import pandas as pd
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from wave_network.cli import app
from wave_network.data import DataConfig, DataError, load_splits

ROWS = [("the striker scored twice", "sports"), ("stocks fell on wall street", "business")] * 6
SUFFIXES = [".csv", ".tsv", ".jsonl", ".csv.gz", ".jsonl.gz", ".parquet"]


def valid_bytes(suffix: str) -> bytes:
    frame = pd.DataFrame(ROWS, columns=["text", "label"])
    base = suffix.removesuffix(".gz")
    if base == ".parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        data = buffer.getvalue()
    elif base == ".jsonl":
        data = frame.to_json(orient="records", lines=True).encode()
    else:
        data = frame.to_csv(index=False, sep="\t" if base == ".tsv" else ",").encode()
    return gzip.compress(data, mtime=0) if suffix.endswith(".gz") else data


@st.composite
def malformed_files(draw):
    """(suffix, bytes): a valid file with a few random edits, or random bytes."""
    suffix = draw(st.sampled_from(SUFFIXES))
    if draw(st.integers(0, 4)) == 0:
        return suffix, draw(st.binary(max_size=300))
    data = bytearray(valid_bytes(suffix))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["cut", "truncate", "insert", "replace"]))
        if edit == "cut":
            del data[at : at + draw(st.integers(1, 20))]
        elif edit == "truncate":
            del data[at:]
        else:
            chunk = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=8),
                    st.sampled_from([b'"', b",", b"\t", b"\n", b"\x00", b"{", b"\xff"]),
                )
            )
            data[at : at + (len(chunk) if edit == "replace" else 0)] = chunk
    return suffix, bytes(data)


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(case=malformed_files())
def test_a_malformed_file_loads_or_is_a_named_data_error(tmp_path_factory, case):
    suffix, data = case
    path = tmp_path_factory.mktemp("fuzz") / f"train{suffix}"
    path.write_bytes(data)
    try:
        splits = load_splits(DataConfig(dataset="fuzz", train_file=str(path), val_fraction=0.25))
    except DataError as error:
        event(f"{suffix}: {type(error).__name__}")
        message = str(error)
        assert message and "\n" not in message.strip() and "Traceback" not in message
        assert str(path) in message or "column" in message or "label" in message, message
        return
    event(f"{suffix}: loaded")
    assert len(splits.train) > 0 and len(splits.label_names) >= 2


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=malformed_files())
@example(case=(".jsonl", b"{"))  # once: the datasets library's own ERROR log line, and pyarrow's "JSON parse error:"
def test_the_command_line_reports_a_malformed_file_in_one_line(tmp_path_factory, case):
    suffix, data = case
    tmp = tmp_path_factory.mktemp("fuzzcli")
    path = tmp / f"train{suffix}"
    path.write_bytes(data)
    args = ["train", "--train-file", str(path), "--set", "hidden_size=8", "--set", "ffn_dim=8", "--max-length", "16"]
    result = CliRunner().invoke(app, [*args, "--max-steps", "1", "--no-compile", "--quiet", "-o", str(tmp / "run")])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.output.count("error:") == 1
