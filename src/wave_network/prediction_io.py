"""Texts in, predictions out, streamed: what ``wave-network predict`` and ``evaluate --test-file`` read and write.

Input is plain text (one text per line), CSV, TSV, JSON Lines or Parquet, from a file or standard input. Records are
read lazily and classified in windows of at most ``window`` texts, and when standard input has nothing more to give
right now the texts read so far are classified at once: the first answers appear before the input ends, and memory
does not grow with its length. Every field of an input record other than the text is passed through to its output
record (an ``id``, a true label), so answers can be joined back to their inputs.
"""

from __future__ import annotations

import csv
import json
import os
import select
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

FORMATS = ("lines", "csv", "tsv", "jsonl", "parquet")
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
TEXT_COLUMNS = ("text", "sentence", "content", "review", "document")
PREDICTION_KEYS = ("label", "label_id", "score", "probabilities", "top_k")


class InputError(ValueError):
    """An input file or stream that cannot be read as asked, with where and why."""


def input_format(path: Path | None, fmt: str | None) -> str:
    """``fmt`` if given, else from the file's suffix (``.gz`` is not supported for streaming), else plain lines."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
        return fmt
    if path is None:
        return "lines"
    return _SUFFIXES.get(path.suffix.lower(), "lines")


class LineSource:
    """The lines of a file or of standard input, decoded as UTF-8, read as they arrive. Before it would wait for
    more input, it calls ``on_wait`` (``predict`` then classifies what it holds)."""

    def __init__(self, stream: IO[bytes], name: str):
        self.stream = stream
        self.name = name
        self.on_wait: Callable[[], None] = lambda: None
        self.number = 0  # lines read so far: the current line's number

    def __iter__(self) -> Iterator[str]:
        try:
            fd = self.stream.fileno()
        except (OSError, ValueError, AttributeError):  # an in-memory stream: all of it is there already
            for raw in self.stream:
                yield self._decode(raw.rstrip(b"\n"))
            return
        buffer = b""
        while True:
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                yield self._decode(raw)
            if not select.select([fd], [], [], 0)[0]:
                self.on_wait()
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            buffer += chunk
        if buffer:
            yield self._decode(buffer)

    def _decode(self, raw: bytes) -> str:
        self.number += 1
        try:
            return raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as error:
            raise InputError(
                f"{self.name}, line {self.number}: not UTF-8 text (byte {error.start}); re-encode it as UTF-8"
            ) from error


def read_records(
    source: Path | None,
    fmt: str,
    *,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    stdin: IO[bytes] | None = None,
) -> tuple[Iterator[dict[str, Any]], LineSource | None]:
    """Records of ``source`` (``None``: standard input) with the text under ``text`` (and ``text_pair``), other
    fields as they are; and the ``LineSource`` behind them (``None`` for Parquet), whose ``on_wait`` to set."""
    name = str(source) if source is not None else "standard input"
    if source is not None and not source.exists():
        raise InputError(f"input file {source} does not exist")
    if fmt == "parquet":
        if source is None:
            raise InputError("Parquet cannot be streamed from standard input: pass the file with --input")
        return _parquet_records(source, text_column, text_pair_column), None
    stream = source.open("rb") if source is not None else (stdin or sys.stdin.buffer)
    lines = LineSource(stream, name)
    if fmt == "lines":
        records = ({"text": line} for line in lines if line.strip())
    elif fmt == "jsonl":
        records = _json_records(lines, name, text_column, text_pair_column)
    else:
        records = _csv_records(lines, name, "\t" if fmt == "tsv" else ",", text_column, text_pair_column)
    return records, lines


def _json_records(lines: LineSource, name: str, column: str | None, pair: str | None) -> Iterator[dict]:
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{name}, line {lines.number}: not valid JSON ({error.msg})") from error
        if not isinstance(record, dict):
            raise InputError(f"{name}, line {lines.number}: expected a JSON object, got {type(record).__name__}")
        yield _with_text(record, list(record), name, f"line {lines.number}", column, pair)


def _csv_records(lines: LineSource, name: str, sep: str, column: str | None, pair: str | None) -> Iterator[dict]:
    reader = csv.DictReader((line + "\n" for line in lines), delimiter=sep)  # newlines inside quoted texts too
    for row in reader:
        if None in row:
            raise InputError(
                f"{name}, line {lines.number}: {len(row[None]) + len(reader.fieldnames)} fields where the header "
                f"has {len(reader.fieldnames)} (a {'tab' if sep == chr(9) else 'comma'} inside an unquoted text?)"
            )
        yield _with_text(row, list(reader.fieldnames or []), name, f"line {lines.number}", column, pair)


def _parquet_records(path: Path, column: str | None, pair: str | None) -> Iterator[dict]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # ArrowInvalid and OS errors of a file that is not Parquet
        raise InputError(f"{path}: cannot be read as Parquet ({error})") from error
    names = parquet.schema_arrow.names
    row = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            row += 1
            yield _with_text(record, names, str(path), f"row {row}", column, pair)


def _with_text(record: dict, columns: list[str], name: str, where: str, column: str | None, pair: str | None) -> dict:
    """``record`` with its text moved to ``text`` (and ``text_pair``); a missing column or text is an error."""
    column = column or next((c for c in TEXT_COLUMNS if c in columns), None)
    if column is None or column not in record:
        raise InputError(
            f"{name}: no text column {column or 'text'!r} (columns: {', '.join(map(str, columns))}); "
            "name it with --text-column"
        )
    out = {"text": record[column]}
    if pair:
        if pair not in record:
            raise InputError(f"{name}: no column {pair!r} (columns: {', '.join(map(str, columns))})")
        out["text_pair"] = record[pair]
    for key in ("text", "text_pair"):
        if key in out and (not isinstance(out[key], str) or not out[key].strip()):
            raise InputError(f"{name}, {where}: the text in column {column if key == 'text' else pair!r} is empty")
    out |= {k: v for k, v in record.items() if k not in (column, pair)}
    return out


def predict_stream(
    records: Iterator[dict[str, Any]],
    lines: LineSource | None,
    classify: Callable[[list[Any]], list[dict[str, Any]]],
    write: Callable[[dict[str, Any]], None],
    *,
    window: int,
) -> int:
    """Classify ``records`` in windows of at most ``window`` and ``write`` each input record merged with its
    prediction, in input order; whatever is held is classified when the input would wait. Returns the count."""
    pending: list[dict[str, Any]] = []
    done = 0

    def flush() -> None:
        nonlocal done
        if not pending:
            return
        texts = [(r["text"], r["text_pair"]) if "text_pair" in r else r["text"] for r in pending]
        for record, prediction in zip(pending, classify(texts), strict=True):
            write(merge(record, prediction))
        done += len(pending)
        pending.clear()

    if lines is not None:
        lines.on_wait = flush
    for record in records:
        pending.append(record)
        if len(pending) >= window:
            flush()
    flush()
    return done


def merge(record: dict[str, Any], prediction: dict[str, Any]) -> dict[str, Any]:
    """The input record's fields, then the prediction's; an input field the prediction also names (a true
    ``label``) is kept as ``input_<name>``."""
    out = {("input_" + k if k in prediction else k): v for k, v in record.items()}
    return out | prediction


class Writer:
    """Output records as JSON Lines (standard output, or a ``.jsonl`` file) or as a CSV/TSV table (``.csv``,
    ``.tsv``: the input fields, ``label``, its ``probability`` and one ``p_<label>`` column per label)."""

    def __init__(self, path: Path | None, labels: list[str]):
        self.path = path
        self.labels = labels
        fmt = _SUFFIXES.get(path.suffix.lower(), "jsonl") if path is not None else "jsonl"
        if fmt == "parquet":
            raise InputError(f"--output {path}: write .jsonl, .csv or .tsv")
        self.fmt = fmt
        self.stream: IO[str] = path.open("w", encoding="utf-8", newline="") if path is not None else sys.stdout
        self.table: csv.DictWriter | None = None

    def __call__(self, record: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            row = {k: v for k, v in record.items() if k not in PREDICTION_KEYS}
            label = record.get("label")
            probabilities = record.get("probabilities") or {}
            if isinstance(label, list):  # multi-label
                label = "|".join(label)
            row["label"] = record.get("score") if label is None else label
            row["probability"] = probabilities.get(label, "")
            row |= {f"p_{name}": probabilities.get(name, "") for name in self.labels}
            if self.table is None:
                self.table = csv.DictWriter(self.stream, list(row), delimiter="\t" if self.fmt == "tsv" else ",")
                self.table.writeheader()
            self.table.writerow(row)
        self.stream.flush()

    def close(self) -> None:
        if self.path is not None:
            self.stream.close()
