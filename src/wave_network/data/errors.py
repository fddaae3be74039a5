"""One exception hierarchy for everything the data layer rejects.

Every error is a ``DataError`` (a ``ValueError``) whose message says what was wrong, where (file, row, column)
and what to do about it. Library exceptions (pandas, pyarrow, ``datasets``) are caught and re-raised as one of
these, chained with ``from`` so the original stays available in ``__cause__`` without burying the message.

Rows are counted from 1 and do not count a header line; for a CSV/TSV with a header, row ``n`` is line
``n + 1`` of the file as long as no quoted field spans several lines.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class DataError(ValueError):
    """Base class: bad data, a bad data option, or data that cannot be found."""


class DataConfigError(DataError):
    """A ``DataConfig`` field holds an invalid value; the message names the field."""


class DatasetNotFoundError(DataError):
    """A data set was found neither locally nor on the hub (or the hub was off limits)."""


class DataFileNotFoundError(DataError):
    """A file named explicitly (``train_file``, ``test_file``) does not exist."""


class ColumnNotFoundError(DataError):
    """A requested column is not in the file; the message lists the columns and the closest match."""

    def __init__(self, origin: str, column: str, available: Sequence[str], *, option: str | None = None) -> None:
        self.origin, self.column, self.available = origin, column, list(available)
        close = difflib.get_close_matches(column, self.available, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        how = f" Set {option} to one of the columns." if option else ""
        super().__init__(
            f"{origin}: no column {column!r}; the columns are {', '.join(map(repr, self.available))}.{hint}{how}"
        )


class InvalidLabelError(DataError):
    """A label value is missing or outside the label set."""

    def __init__(self, origin: str, row: int, column: str, value: object, allowed: str) -> None:
        self.origin, self.row, self.column, self.value = origin, row, column, value
        shown = "an empty value" if value is None or value == "" else repr(value)
        super().__init__(f"{origin}, row {row}, column {column!r}: label {shown} is not in the label set {allowed}")


class LabelSetError(DataError):
    """The labels as a whole cannot make a task: one class only, numbers mixed with names, names that differ
    only in case."""


class EncodingError(DataError):
    """A text file is not valid UTF-8."""

    def __init__(self, origin: str, offset: int, line: int | None, reason: str) -> None:
        self.origin, self.offset, self.line = origin, offset, line
        where = f"byte offset {offset}" + (f", line {line} (of the uncompressed text)" if line else "")
        super().__init__(
            f"{origin} is not valid UTF-8: {reason} at {where}. "
            "Re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`."
        )


class MalformedRowError(DataError):
    """A row cannot be parsed: wrong number of fields, broken quoting, invalid JSON."""


class EmptyDatasetError(DataError):
    """A split has no usable rows (all rows empty, or the file holds only a header)."""


class TokenizerNotFoundError(DataError):
    """A tokenizer name or path could not be loaded."""


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``name`` (difflib ratio >= 0.5), or ``None``."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.5)
    return found[0] if found else None
