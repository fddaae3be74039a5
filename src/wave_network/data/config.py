"""``DataConfig``: which data set, how it is split and how it is tokenized. Invalid values fail in
``__post_init__`` with a ``DataConfigError`` naming the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..problem_types import ProblemType
from .catalog import get_spec
from .errors import DataConfigError

DEFAULT_TOKENIZER = "bert-base-uncased"
DEFAULT_DATASET = "ag_news_sample"
VAL_SPLITS = ("rows", "sentences")


@dataclass
class DataConfig:
    """Data for one run.

    Args:
        dataset: a name from ``list_datasets()`` (``ag_news``, ``dbpedia_14``, ``imdb``, ``sst2``,
            ``ag_news_sample``), a Hugging Face data set (``hf:owner/name`` or ``hf:owner/name:config``; a
            plain name outside the catalogue means the same), or a local directory holding
            ``train.*``/``test.*`` files or the hub's parquet layout. With ``train_file`` set it is only a
            display name, and left at its default the training file's name is recorded instead
            (``display_name``).
        data_dir: the directory to read the data set from (the data set's own directory, e.g. what
            ``huggingface-cli download fancyzhx/ag_news --repo-type dataset --local-dir DIR`` made, or a root
            that holds ``ag_news/``, ``imdb/`` ...). When set, only this directory is searched. When ``None``,
            the environment variable ``WAVE_NETWORK_DATA_DIR``, then ``../shared/data`` beside the working
            directory and beside the repository, then the hub are tried.
        train_file: a local CSV, TSV, JSON Lines or Parquet file (``.gz`` too) with the official training
            data.
        test_file: the matching test file. Without it, a stratified ``val_fraction`` of ``train_file`` is held
            out as the test set (recorded in the provenance).
        text_columns: one column (``text``) or two (``text``, ``text_pair``, encoded as [CLS] a [SEP] b [SEP])
            of a local file or hub data set. ``None``: ``text``, ``sentence``, ``content`` ... whichever
            exists.
        label_column: the label column of a local file or hub data set; ``None`` means ``label``.
        label_names: class names in label order. Labels in the files may be these names or their 0-based
            indices. ``None``: taken from the data set (classes.txt, hub features) or the sorted distinct
            labels of the training file.
        problem_type: ``"single_label_classification"`` or ``"regression"`` (float labels); ``None`` infers it
            (float labels that are not all whole numbers mean regression).
        tokenizer: ``"bert-base-uncased"`` (the WordPiece vocabulary shipped in the package, works offline), a
            Hugging Face tokenizer name or a local tokenizer directory.
        max_length: tokens per example after truncation, [CLS] and [SEP] included.
        val_fraction: fraction of the training data held out (stratified, seeded) as the validation split; the
            paper uses an 80/20 train/validation split of the official training data.
        val_split: how the validation split is drawn: ``"rows"`` (stratified rows) or ``"sentences"`` (whole
            sentences, for training sets that also hold every phrase of their sentences, as SST-2 does; the
            phrases found only in validation sentences leave training; see ``splitting.sentence_holdout``).
        seed: seeds the train/validation split and the subsampling.
        max_train_samples: keep a stratified, seeded subsample of this many training examples (quick runs).
            The validation split is drawn first, so it does not change.
        max_eval_samples: keep a stratified subsample of this many validation and test examples (smoke tests
            only; recorded in the provenance, never a reportable test score).
        cache_dir: where parsed files and tokenized splits are cached; ``None`` means ``$WAVE_NETWORK_CACHE``
            or ``~/.cache/wave_network``. Hub downloads use the ``datasets`` cache unless this is set.
    """

    dataset: str = DEFAULT_DATASET
    data_dir: str | None = None
    train_file: str | None = None
    test_file: str | None = None
    text_columns: tuple[str, ...] | None = None
    label_column: str | None = None
    label_names: tuple[str, ...] | None = None
    problem_type: str | None = None
    tokenizer: str = DEFAULT_TOKENIZER
    max_length: int = 512
    val_fraction: float = 0.2
    val_split: str = "rows"
    seed: int = 42
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("data_dir", "train_file", "test_file", "cache_dir"):
            if isinstance(getattr(self, name), Path):
                setattr(self, name, str(getattr(self, name)))
        if isinstance(self.text_columns, str):
            self.text_columns = (self.text_columns,)
        for name in ("text_columns", "label_names"):
            if isinstance(getattr(self, name), list):
                setattr(self, name, tuple(getattr(self, name)))
        self._validate()

    @property
    def display_name(self) -> str:
        """The name results and run directories record: ``dataset``, or the training file's name when
        ``train_file`` is given and ``dataset`` was left at its default (which names another data set)."""
        if self.train_file is not None and self.dataset == DEFAULT_DATASET:
            return Path(self.train_file).name
        return self.dataset

    def _fail(self, name: str, expected: str) -> None:
        raise DataConfigError(f"DataConfig.{name}={getattr(self, name)!r}; expected {expected}")

    def _validate(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            self._fail("dataset", "a data set name (see `wave-network datasets`), hf:owner/name or a directory")
        for name in ("data_dir", "train_file", "test_file", "cache_dir", "label_column"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                self._fail(name, "a non-empty string or None")
        if self.text_columns is not None and not (
            isinstance(self.text_columns, tuple)
            and len(self.text_columns) in (1, 2)
            and all(isinstance(c, str) and c for c in self.text_columns)
        ):
            self._fail("text_columns", "one or two column names (text, or text and text_pair)")
        if self.label_names is not None and not (
            isinstance(self.label_names, tuple)
            and len(self.label_names) >= 1
            and all(isinstance(n, str) and n for n in self.label_names)
            and len(set(self.label_names)) == len(self.label_names)
        ):
            self._fail("label_names", "distinct non-empty class names, or None")
        if isinstance(self.problem_type, ProblemType):  # stored as the plain value (YAML refuses enum members)
            self.problem_type = self.problem_type.value
        single, regression = ProblemType.SINGLE_LABEL.value, ProblemType.REGRESSION.value
        if self.problem_type not in (None, single, regression):
            self._fail("problem_type", f"None, {single!r} or {regression!r}")
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            self._fail("tokenizer", "a tokenizer name or directory")
        # [CLS] and [SEP] alone take two positions.
        if not _is_int(self.max_length) or self.max_length < 2:
            self._fail("max_length", "an integer >= 2")
        if isinstance(self.val_fraction, bool) or not isinstance(self.val_fraction, (int, float)):
            self._fail("val_fraction", "a number in (0, 1)")
        if not 0 < self.val_fraction < 1:
            self._fail("val_fraction", "a number in (0, 1)")
        if self.val_split not in VAL_SPLITS:
            self._fail("val_split", " or ".join(map(repr, VAL_SPLITS)))
        if not _is_int(self.seed):
            self._fail("seed", "an integer")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                self._fail(name, "an integer >= 1 or None")
        if self.test_file is not None and self.train_file is None:
            self._fail("test_file", "to come with train_file")
        spec = get_spec(self.dataset)
        if spec is not None and self.train_file is None:
            for name in ("text_columns", "label_column"):
                if getattr(self, name) is not None:
                    self._fail(name, f"None: {self.dataset!r} defines its own columns (use train_file for your own)")
            if spec.bundled and self.data_dir is not None:
                self._fail("data_dir", f"None: {self.dataset!r} is bundled with the package")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
