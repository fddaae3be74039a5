"""Read files and hub data sets into raw ``datasets.Dataset`` objects, with errors a user can act on.

Parsing and caching are ``datasets.load_dataset`` ("csv", "json", "parquet" builders), cached under
``<cache_dir>/datasets`` and keyed by the files' paths and modification times. Before a text file is parsed
it is checked once, in one pass: it must be valid UTF-8 (the error names the byte offset and line), and every
CSV/TSV record must have as many fields as the header (pandas silently fills a truncated row with empty
values, so this check is ours). CSV/TSV columns are read as strings, so labels are converted (and checked) in
one place.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import datasets
import pandas as pd

from .catalog import HubSource
from .errors import (
    DataError,
    DataFileNotFoundError,
    DatasetNotFoundError,
    EmptyDatasetError,
    EncodingError,
    MalformedRowError,
)

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
_QUOTING = {"minimal": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}


def file_format(path: Path) -> str:
    """``csv``, ``tsv``, ``json`` or ``parquet`` from the file name (a ``.gz`` suffix is looked through)."""
    suffixes = path.suffixes[-2:] if path.suffix == ".gz" else path.suffixes[-1:]
    fmt = FORMATS.get(suffixes[0].lower()) if suffixes else None
    if fmt is None or (fmt == "parquet" and path.suffix == ".gz"):
        raise DataError(
            f"{path}: unsupported file type; use .csv, .tsv, .jsonl/.json (each optionally .gz) or .parquet"
        )
    return fmt


def describe(files: Sequence[Path]) -> str:
    """How files are named in messages: the path, or the first path and a count."""
    return str(files[0]) if len(files) == 1 else f"{files[0]} (+{len(files) - 1} more files)"


def read_files(
    files: Sequence[Path],
    cache_dir: Path,
    *,
    column_names: Sequence[str] | None = None,
    quoting: str = "minimal",
) -> datasets.Dataset:
    """Read one split stored in ``files`` (all of one format).

    Args:
        files: the files; their rows are concatenated in order.
        cache_dir: parsed files are cached in ``cache_dir / "datasets"``.
        column_names: the columns of CSV/TSV files without a header line.
        quoting: ``"minimal"`` (standard CSV quotes) or ``"none"`` (quotes are text, as in GLUE's TSVs).
    """
    files = [Path(f) for f in files]
    for path in files:
        if not path.is_file():
            raise DataFileNotFoundError(f"{path}: no such file")
    formats = {file_format(f) for f in files}
    if len(formats) > 1:
        raise DataError(f"{describe(files)}: files of one split must share a format, got {sorted(formats)}")
    fmt = formats.pop()
    kwargs: dict = {}
    if fmt in ("csv", "tsv"):
        sep = "\t" if fmt == "tsv" else ","
        names = list(column_names) if column_names else None
        for path in files:
            names_here = check_csv(path, sep=sep, quoting=quoting, column_names=column_names)
            names = names or names_here
        kwargs = dict(
            sep=sep,
            quoting=_QUOTING[quoting],
            keep_default_na=False,  # an empty field is "", not NaN; text like "NA" or "null" stays text
            encoding="utf-8-sig",
            features=datasets.Features({n: datasets.Value("string") for n in names}),
        )
        if column_names:
            kwargs["column_names"] = list(column_names)
    elif fmt == "json":
        for path in files:
            if not _read_text(path).strip():  # the JSON builder does not reject invalid UTF-8 itself
                raise EmptyDatasetError(f"{path}: the file has no rows")
    elif fmt == "parquet":
        for path in files:
            _check_parquet(path)
    builder = "csv" if fmt == "tsv" else fmt
    try:
        with _quiet_datasets_errors():  # its JSON builder logs the failure before raising it: ours says it once
            return datasets.load_dataset(
                builder,
                data_files={"data": [str(f) for f in files]},
                split="data",
                cache_dir=str(cache_dir / "datasets"),
                **kwargs,
            )
    except Exception as error:  # library errors become one DataError naming the file
        raise _translate(error, files) from error


def check_csv(path: Path, *, sep: str, quoting: str, column_names: Sequence[str] | None) -> list[str]:
    """Check UTF-8 and the field count of every record; returns the column names (the header, or
    ``column_names``)."""
    text = _read_text(path)
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=_QUOTING[quoting])
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))  # long reviews exceed the csv module's 128 KiB default
    try:
        header = list(column_names) if column_names else next(reader, None)
        if header is None:
            raise MalformedRowError(f"{path}: the file is empty (no header line)")
        row = 0
        for fields in reader:
            if not fields:  # blank lines are skipped, as pandas does
                continue
            row += 1
            if len(fields) != len(header):
                raise MalformedRowError(
                    f"{path}, row {row} (line {reader.line_num}): expected {len(header)} fields "
                    f"({', '.join(header)}), found {len(fields)}; the row is truncated or its quoting or "
                    "separators are broken"
                )
    except csv.Error as error:
        raise MalformedRowError(f"{path}, line {reader.line_num}: {error}") from error
    finally:
        csv.field_size_limit(limit)
    if row == 0:
        raise EmptyDatasetError(f"{path}: the file has no rows{'' if column_names else ', only the header line'}")
    return header


def _check_parquet(path: Path) -> None:
    """A Parquet file must have a readable footer and at least one row (pyarrow's own errors are cryptic)."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        rows = parquet.metadata.num_rows
        for batch in parquet.iter_batches(batch_size=65536):
            # full validation checks the UTF-8 of string columns, which reading alone does not: a damaged page
            # would otherwise fail later, deep inside the datasets library
            batch.validate(full=True)
    except Exception as error:  # ArrowInvalid, OSError: not a Parquet file, a truncated or damaged one
        raise MalformedRowError(f"{path}: not a readable Parquet file ({_one_line(error)})") from error
    if rows == 0:
        raise EmptyDatasetError(f"{path}: the file has no rows")


def _read_text(path: Path) -> str:
    try:
        raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise MalformedRowError(
            f"{path}: cannot be read as {'gzip' if path.suffix == '.gz' else 'a file'}: {error}"
        ) from error
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise EncodingError(str(path), error.start, line, error.reason) from error


_PANDAS_LINE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_ARROW_ROW = re.compile(r"in row (\d+)")


def _translate(error: Exception, files: Sequence[Path]) -> DataError:
    """The most specific ``DataError`` for an exception raised while ``datasets`` parsed ``files``."""
    where = describe(files)
    chain = []
    cause: BaseException | None = error
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for cause in chain:
        if isinstance(cause, DataError):
            return cause
        if isinstance(cause, pd.errors.ParserError):
            found = _PANDAS_LINE.search(str(cause))
            if found:
                expected, line, saw = found.groups()
                return MalformedRowError(f"{where}, line {line}: expected {expected} fields, found {saw}")
            return MalformedRowError(f"{where}: {_one_line(cause)}")
        if isinstance(cause, UnicodeDecodeError):
            return EncodingError(where, cause.start, None, cause.reason)
    for cause in chain:
        found = _ARROW_ROW.search(str(cause))
        if found:  # pyarrow counts JSON rows from 0; its "JSON parse error: ... in row N" says less than ours
            reason = _ARROW_ROW.sub("", _one_line(cause)).rstrip(" .")
            reason = re.sub(r"^JSON parse error:\s*", "", reason)
            return MalformedRowError(f"{where}, row {int(found.group(1)) + 1}: cannot be parsed: {reason}")
    message = _one_line(chain[-1]) or type(chain[-1]).__name__
    return MalformedRowError(f"{where}: cannot be parsed: {message}")


@contextmanager
def _quiet_datasets_errors() -> Iterator[None]:
    """``datasets`` logs below CRITICAL are dropped while it reads a local file (its errors still raise)."""
    logger = logging.getLogger("datasets")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _one_line(error: BaseException) -> str:
    """A library's message on one line (pyarrow's span several)."""
    return " ".join(str(error).split())


def read_hub(hub: HubSource, cache_dir: Path | None) -> datasets.DatasetDict:
    """The hub data set ``hub`` through ``datasets.load_dataset`` (``cache_dir=None``: the ``datasets``
    cache). Any failure (no network, unknown repo, gated data) becomes a ``DatasetNotFoundError`` with the
    reason."""
    try:
        return datasets.load_dataset(hub.repo, hub.config, cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatasetNotFoundError(f"hub {hub.repo}{':' + hub.config if hub.config else ''}: {reason}") from error
