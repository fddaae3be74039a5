"""Label schemes: how raw label values (ints, numeric strings from a CSV, class names, floats) become 0-based
class ids or float targets, and which values are allowed. A value outside the scheme raises
``InvalidLabelError`` naming the file, row, column and value (``loading.py`` adds those)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..problem_types import ProblemType
from .errors import LabelSetError

_INTEGER = re.compile(r"[+-]?\d+")
_WHOLE_DECIMAL = re.compile(r"([+-]?\d+)\.0*")


def canonical(value: object) -> str | None:
    """The text form used to match labels across formats: ``3``, ``3.0``, ``"3"`` and ``"3.0"`` are all
    ``"3"``; surrounding spaces go (``" sports"`` is ``"sports"``; ``loading.py`` counts and reports them)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    whole = _WHOLE_DECIMAL.fullmatch(text)
    return str(int(whole.group(1))) if whole else text


def is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _as_int(value: object) -> int | None:
    text = canonical(value)
    return int(text) if text is not None and _INTEGER.fullmatch(text) else None


@dataclass(frozen=True)
class LabelScheme:
    """How raw labels map to targets.

    Args:
        names: class names in id order (empty for regression).
        problem_type: ``"single_label_classification"`` or ``"regression"``.
        offset: for integer-coded files, the file's value of class 0 (1 for the Zhang et al. 2015 CSVs).
            Ignored when ``lookup`` is set.
        lookup: canonical label text -> class id, for files whose labels are names or arbitrary values.
        by_index: ``lookup`` also accepts the 0-based class indices (for messages).
        target_range: regression only: the documented range ``(low, high)`` of the targets, which are scaled to
            [0, 1] by ``(value - low) / (high - low)`` (STS-B's 0-5 similarity); a value outside it is refused.
    """

    names: tuple[str, ...]
    problem_type: str = ProblemType.SINGLE_LABEL.value
    offset: int = 0
    lookup: dict[str, int] | None = field(default=None, hash=False)
    by_index: bool = False
    target_range: tuple[float, float] | None = None

    def encode(self, value: object) -> int | float:
        """The target for ``value``; ``ValueError`` when it is not allowed."""
        if self.problem_type == ProblemType.REGRESSION:
            try:
                target = float(canonical(value) or "nan")
            except ValueError:
                target = math.nan
            if math.isnan(target) or math.isinf(target):
                raise ValueError(value)
            if self.target_range is not None:
                low, high = self.target_range
                if not low <= target <= high:
                    raise ValueError(value)
                return (target - low) / (high - low)
            return target
        if self.lookup is not None:
            key = canonical(value)
            if key not in self.lookup:
                raise ValueError(value)
            return self.lookup[key]
        number = _as_int(value)
        if number is None or not 0 <= number - self.offset < len(self.names):
            raise ValueError(value)
        return number - self.offset

    def allowed(self) -> str:
        """The allowed values, for error messages."""
        if self.problem_type == ProblemType.REGRESSION:
            return "(finite numbers)" if self.target_range is None else "[{}, {}]".format(*self.target_range)
        if self.lookup is not None:
            shown = "{" + ", ".join(repr(n) for n in self.names) + "}"
            return shown + f" or their indices 0..{len(self.names) - 1}" if self.by_index else shown
        pairs = ", ".join(f"{i + self.offset}={n}" for i, n in enumerate(self.names))
        return f"{{{self.offset}..{self.offset + len(self.names) - 1}}} ({pairs})"


def integer_scheme(names: Sequence[str], offset: int = 0) -> LabelScheme:
    """Integer-coded labels ``offset .. offset + len(names) - 1`` (catalogued data sets, hub
    ``ClassLabel``)."""
    return LabelScheme(tuple(names), ProblemType.SINGLE_LABEL.value, offset)


def named_scheme(names: Sequence[str]) -> LabelScheme:
    """Labels given as the names themselves or as their 0-based indices (``DataConfig.label_names``)."""
    lookup = {str(i): i for i in range(len(names))}
    lookup.update({n: i for i, n in enumerate(names)})  # a name wins over an index that reads the same
    return LabelScheme(tuple(names), ProblemType.SINGLE_LABEL.value, 0, lookup, by_index=True)


def inferred_scheme(values: Iterable[object], problem_type: str | None, origin: str = "labels") -> LabelScheme:
    """A scheme from the distinct training labels: regression when asked for, or when the labels are numbers
    and not all whole; otherwise the sorted distinct values (numerically when all are integers) are the
    classes.

    Raises ``LabelSetError`` where a guess would reinterpret the data: labels that mix numbers and names
    (``0``, ``1``, ``sports``), and names that differ only in case (``Sports``, ``sports``)."""
    distinct = {canonical(v) for v in values} - {None, ""}
    if problem_type == ProblemType.REGRESSION or (problem_type is None and _fractional(distinct)):
        return LabelScheme((), ProblemType.REGRESSION.value)
    numbers = sorted(v for v in distinct if is_number(v))
    names = sorted(v for v in distinct if not is_number(v))
    if numbers and names and problem_type is None:
        raise LabelSetError(
            f"{origin}: the labels mix numbers ({_shown(numbers)}) and names ({_shown(names)}); a number is not "
            "the index of a name here, so they would become separate classes. Write every label one way"
        )
    folded: dict[str, str] = {}
    for name in names:
        other = folded.setdefault(name.casefold(), name)
        if other != name:
            raise LabelSetError(
                f"{origin}: the labels {other!r} and {name!r} differ only in case; they would become two classes. "
                "Write each class one way"
            )
    if all(_INTEGER.fullmatch(v) for v in distinct):
        ordered = sorted(distinct, key=int)
    else:
        ordered = sorted(distinct)
    return LabelScheme(tuple(ordered), ProblemType.SINGLE_LABEL.value, 0, {v: i for i, v in enumerate(ordered)})


def _shown(values: Sequence[str], limit: int = 4) -> str:
    head = ", ".join(repr(v) for v in values[:limit])
    return head + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _fractional(distinct: set[str]) -> bool:
    """All labels are numbers and some are not whole. ``inf`` and ``nan`` are names here, not numbers (Python's
    ``float`` reads them; a regression target cannot be one)."""
    if not all(is_number(v) for v in distinct):
        return False
    return any(not float(v).is_integer() for v in distinct)
