"""The named data sets: where each is stored, in which on-disk layouts, and how its columns become ``text``
and ``label``. Adding a data set is adding an entry here; no loading code changes.

Sources of the layouts:

- Zhang, Zhao & LeCun (2015), "Character-level Convolutional Networks for Text Classification": AG News and
  DBpedia-14 as ``train.csv``/``test.csv`` without a header (``class, title, description|content``; classes
  counted from 1, named in ``classes.txt``). The Hugging Face copies (``fancyzhx/ag_news``,
  ``fancyzhx/dbpedia_14``) count classes from 0; ``fancyzhx/ag_news`` joins title and description with one
  space into ``text``, and so do we for both data sets (``title + " " + description|content``).
- Maas et al. (2011), Large Movie Review Dataset (IMDB): 25,000 train / 25,000 test reviews, 0 = negative,
  1 = positive (Hugging Face ``stanfordnlp/imdb``; the shared copy is JSON Lines with ``text``, ``label``).
- Socher et al. (2013) SST-2 as packaged by GLUE (Wang et al. 2019): ``train.tsv``/``dev.tsv`` with header
  ``sentence, label``, no quoting. GLUE's test labels are not public, so the GLUE dev set is our test set
  (Hugging Face ``nyu-mll/glue``, config ``sst2``, split ``validation``).
- ``huggingface-cli download <repo> --repo-type dataset --local-dir DIR`` writes the hub's parquet conversion:
  ``DIR/<config or data>/<split>-00000-of-0000N.parquet``; every data set accepts that layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..problem_types import ProblemType

TEXT_JOIN = " "
"""Separator between the columns joined into one text (title and description): one space, as
``fancyzhx/ag_news``."""


@dataclass(frozen=True)
class FileSpec:
    """How one split is stored in one layout.

    Args:
        patterns: globs relative to the data set's directory; the first pattern that matches any file wins and
            all its matches (sorted) are read together, e.g. parquet shards.
        text: columns joined with ``TEXT_JOIN`` into ``text``.
        label: the label column.
        text_pair: columns joined into ``text_pair`` (sentence-pair tasks); empty for single texts.
        column_names: the column names of a file without a header line; ``None`` when the file has a header.
        label_offset: subtracted from integer labels (the Zhang et al. 2015 CSVs count classes from 1).
        quoting: ``"minimal"`` (standard CSV quoting) or ``"none"`` (GLUE's TSVs, whose quotes are literal
            text).
        note: set when the split is not the official one; formatted with ``rows`` (the file's row count).
        named_labels: the label column holds class names (``entailment``) or 0-based indices, not integers
            counted from ``label_offset``.
    """

    patterns: tuple[str, ...]
    text: tuple[str, ...] = ("text",)
    label: str = "label"
    text_pair: tuple[str, ...] = ()
    column_names: tuple[str, ...] | None = None
    label_offset: int = 0
    quoting: str = "minimal"
    note: str | None = None
    named_labels: bool = False


@dataclass(frozen=True)
class Layout:
    """One on-disk arrangement of a data set: a train file spec, a test file spec and an optional class
    list."""

    name: str
    description: str
    train: FileSpec
    test: FileSpec
    classes_file: str | None = "classes.txt"


@dataclass(frozen=True)
class HubSource:
    """Where a data set lives on the Hugging Face hub and which of its splits are train and test."""

    repo: str
    config: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    text: tuple[str, ...] = ("text",)
    label: str = "label"
    text_pair: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetSpec:
    """A named data set.

    Args:
        name: the name users pass (``DataConfig.dataset``).
        description: one line for ``wave-network datasets``, with the citation.
        label_names: class names in label order (0-based), used when no ``classes.txt`` or hub features say.
        layouts: local layouts, tried in order within each directory.
        dirnames: sub-directories of a data root that may hold the data set (``<root>/ag_news``).
        hub: the hub copy, or ``None`` for data that is never downloaded.
        test_role: what the test split is, for reports ("official test", "GLUE dev set").
        bundled: shipped inside the package; loaded from there only, never from a data directory or the hub.
        target_range: regression targets' documented range, scaled to [0, 1] when loaded (``LabelScheme``).
    """

    name: str
    description: str
    label_names: tuple[str, ...]
    layouts: tuple[Layout, ...]
    dirnames: tuple[str, ...] = ()
    hub: HubSource | None = None
    test_role: str = "official test split"
    bundled: bool = False
    problem_type: str = ProblemType.SINGLE_LABEL.value
    target_range: tuple[float, float] | None = None


def _csv(stem: str) -> tuple[str, ...]:
    return (f"{stem}.csv", f"{stem}.csv.gz")


def _parquet(split: str, *subdirs: str) -> tuple[str, ...]:
    return tuple(f"{d}/{split}-*.parquet" for d in subdirs) + (f"{split}-*.parquet", f"{split}.parquet")


def hf_parquet_layout(text: tuple[str, ...], *, subdirs: tuple[str, ...] = ("data",), test_split: str = "test"):
    """The layout ``huggingface-cli download`` leaves: ``<subdir>/<split>-NNNNN-of-NNNNN.parquet``, 0-based
    labels."""
    return Layout(
        name="hf-parquet",
        description=f"Hugging Face parquet files ({subdirs[0]}/train-*.parquet, {subdirs[0]}/{test_split}-*.parquet)",
        train=FileSpec(_parquet("train", *subdirs), text=text),
        test=FileSpec(_parquet(test_split, *subdirs), text=text),
        classes_file=None,
    )


_AG_LABELS = ("World", "Sports", "Business", "Sci/Tech")
_AG_COLUMNS = ("label", "title", "description")
_AG_TEST = FileSpec(_csv("test"), text=("title", "description"), column_names=_AG_COLUMNS, label_offset=1)
_AG_SUBSET = FileSpec(
    _csv("train_subset_lst11111"),
    label_offset=1,
    note="AG News, {rows:,}-row train subset (a real random sample of the official 120,000-row train split)",
)

AG_NEWS = DatasetSpec(
    name="ag_news",
    description="AG News topic classification, 4 classes, 120,000 train / 7,600 test (Zhang et al. 2015)",
    label_names=_AG_LABELS,
    dirnames=("ag_news", "ag_news_csv"),
    layouts=(
        Layout(
            "zhang2015-csv",
            "train.csv[.gz] + test.csv[.gz] without header (class, title, description), classes.txt",
            train=FileSpec(_csv("train"), text=("title", "description"), column_names=_AG_COLUMNS, label_offset=1),
            test=_AG_TEST,
        ),
        hf_parquet_layout(("text",)),
        Layout(
            "shared-subset",
            "train_subset_lst11111.csv[.gz] (header label,text) + test.csv[.gz] (the 4,999-row shared subset)",
            train=_AG_SUBSET,
            test=_AG_TEST,
        ),
    ),
    hub=HubSource("fancyzhx/ag_news"),
)

AG_NEWS_SAMPLE = DatasetSpec(
    name="ag_news_sample",
    description="AG News bundled sample: the real 4,999-row train subset and the official 7,600-row test "
    "(Zhang et al. 2015), always offline",
    label_names=_AG_LABELS,
    layouts=(
        Layout(
            "bundled-sample",
            "the sample shipped in wave_network/resources/data/ag_news_sample",
            train=_AG_SUBSET,
            test=_AG_TEST,
        ),
    ),
    bundled=True,
)

_DBPEDIA_COLUMNS = ("label", "title", "content")
DBPEDIA_14 = DatasetSpec(
    name="dbpedia_14",
    description="DBpedia ontology classification, 14 classes, 560,000 train / 70,000 test (Zhang et al. 2015)",
    label_names=(
        "Company",
        "EducationalInstitution",
        "Artist",
        "Athlete",
        "OfficeHolder",
        "MeanOfTransportation",
        "Building",
        "NaturalPlace",
        "Village",
        "Animal",
        "Plant",
        "Album",
        "Film",
        "WrittenWork",
    ),
    dirnames=("dbpedia_14", "dbpedia_csv", "dbpedia"),
    layouts=(
        Layout(
            "zhang2015-csv",
            "train.csv[.gz] + test.csv[.gz] without header (class, title, content), classes.txt",
            train=FileSpec(_csv("train"), text=("title", "content"), column_names=_DBPEDIA_COLUMNS, label_offset=1),
            test=FileSpec(_csv("test"), text=("title", "content"), column_names=_DBPEDIA_COLUMNS, label_offset=1),
        ),
        hf_parquet_layout(("title", "content"), subdirs=("dbpedia_14", "data")),
        Layout(
            "shared-subsets",
            "keaml_train_subset.csv[.gz] + dhim_test.csv[.gz] (header label,content; the shared subsets)",
            train=FileSpec(
                _csv("keaml_train_subset"),
                text=("content",),
                label_offset=1,
                note="DBpedia-14, {rows:,}-row train subset (drawn from the official 560,000-row train "
                "split; its source tokenized the text and stripped non-ASCII characters)",
            ),
            test=FileSpec(
                _csv("dhim_test"),
                text=("content",),
                label_offset=1,
                note="DBpedia-14, {rows:,}-row test set resampled from the official train and test splits "
                "pooled (not the official 70,000-row test split; it may share rows with the train subset)",
            ),
        ),
    ),
    hub=HubSource("fancyzhx/dbpedia_14", text=("title", "content")),
)

IMDB = DatasetSpec(
    name="imdb",
    description="IMDB movie-review sentiment, 2 classes, 25,000 train / 25,000 test (Maas et al. 2011)",
    label_names=("neg", "pos"),
    dirnames=("imdb",),
    layouts=(
        Layout(
            "jsonl",
            "train.jsonl[.gz] + test.jsonl[.gz] with fields text, label",
            train=FileSpec(("train.jsonl", "train.jsonl.gz")),
            test=FileSpec(("test.jsonl", "test.jsonl.gz")),
            classes_file=None,
        ),
        hf_parquet_layout(("text",), subdirs=("plain_text", "data")),
    ),
    hub=HubSource("stanfordnlp/imdb"),
)

SST2 = DatasetSpec(
    name="sst2",
    description="SST-2 binary sentiment from GLUE, 67,349 train; GLUE dev (872) is the test set "
    "(Socher et al. 2013; Wang et al. 2019)",
    label_names=("negative", "positive"),
    dirnames=("glue/SST-2", "SST-2", "sst2", "glue"),
    layouts=(
        Layout(
            "glue-tsv",
            "train.tsv[.gz] + dev.tsv[.gz] with header sentence, label (GLUE download script)",
            train=FileSpec(("train.tsv", "train.tsv.gz"), text=("sentence",), quoting="none"),
            test=FileSpec(("dev.tsv", "dev.tsv.gz"), text=("sentence",), quoting="none"),
            classes_file=None,
        ),
        hf_parquet_layout(("sentence",), subdirs=("sst2", "data"), test_split="validation"),
    ),
    hub=HubSource("nyu-mll/glue", config="sst2", test_split="validation", text=("sentence",)),
    test_role="GLUE dev set (GLUE's test labels are not public)",
)


def _tsv(stem: str) -> tuple[str, ...]:
    return (f"{stem}.tsv", f"{stem}.tsv.gz")


def _glue_task(
    name: str,
    folder: str,
    description: str,
    label_names: tuple[str, ...],
    text: tuple[str, ...],
    text_pair: tuple[str, ...] = (),
    label: str = "label",
    *,
    hub_config: str,
    hub_text: tuple[str, ...],
    hub_pair: tuple[str, ...] = (),
    test_stem: str = "dev",
    hub_test_split: str = "validation",
    column_names: tuple[str, ...] | None = None,
    problem_type: str = ProblemType.SINGLE_LABEL.value,
    target_range: tuple[float, float] | None = None,
) -> DatasetSpec:
    """A GLUE task (Wang et al. 2019) as the standard download script lays it out (``<Task>/train.tsv``,
    ``dev.tsv``; GLUE's quotes are literal text), or as ``nyu-mll/glue``. GLUE's test labels are not public, so the
    dev set is the test set; model selection uses a validation split carved from the training data."""
    layout = Layout(
        "glue-tsv",
        f"{folder}/train.tsv[.gz] + {test_stem}.tsv[.gz] (GLUE download script)",
        train=FileSpec(_tsv("train"), text=text, text_pair=text_pair, label=label, column_names=column_names,
                       quoting="none", named_labels=True),
        test=FileSpec(_tsv(test_stem), text=text, text_pair=text_pair, label=label, column_names=column_names,
                      quoting="none", named_labels=True),
        classes_file=None,
    )  # fmt: skip
    parquet = Layout(
        "hf-parquet",
        f"Hugging Face parquet files ({hub_config}/train-*.parquet, {hub_config}/{hub_test_split}-*.parquet)",
        train=FileSpec(_parquet("train", hub_config), text=hub_text, text_pair=hub_pair),
        test=FileSpec(_parquet(hub_test_split, hub_config), text=hub_text, text_pair=hub_pair),
        classes_file=None,
    )
    return DatasetSpec(
        name=name,
        description=description,
        label_names=label_names,
        layouts=(layout, parquet),
        dirnames=(f"glue/{folder}", folder, name),
        hub=HubSource(
            "nyu-mll/glue", config=hub_config, test_split=hub_test_split, text=hub_text, text_pair=hub_pair
        ),  # fmt: skip
        test_role="GLUE dev set (GLUE's test labels are not public)",
        problem_type=problem_type,
        target_range=target_range,
    )


_NLI2 = ("entailment", "not_entailment")
_PAIR = ("sentence1",), ("sentence2",)
COLA = _glue_task(
    "cola", "CoLA", "CoLA linguistic acceptability, 8,551 train; GLUE dev (1,043) is the test set (Warstadt et al. "
    "2019)", ("unacceptable", "acceptable"), ("sentence",),
    column_names=("source", "label", "original_label", "sentence"), hub_config="cola", hub_text=("sentence",),
)  # fmt: skip
MRPC = _glue_task(
    "mrpc", "MRPC", "MRPC paraphrase pairs, 3,668 train; GLUE dev (408) is the test set (Dolan and Brockett 2005)",
    ("not_equivalent", "equivalent"), ("#1 String",), ("#2 String",), label="Quality",
    hub_config="mrpc", hub_text=("sentence1",), hub_pair=("sentence2",),
)  # fmt: skip
QQP = _glue_task(
    "qqp", "QQP", "Quora question pairs, 363,846 train; GLUE dev (40,430) is the test set (Iyer et al. 2017)",
    ("not_duplicate", "duplicate"), ("question1",), ("question2",), label="is_duplicate",
    hub_config="qqp", hub_text=("question1",), hub_pair=("question2",),
)  # fmt: skip
QNLI = _glue_task(
    "qnli", "QNLI", "QNLI question-answer entailment, 104,743 train; GLUE dev (5,463) is the test set "
    "(Rajpurkar et al. 2016; Wang et al. 2019)", _NLI2, ("question",), ("sentence",),
    hub_config="qnli", hub_text=("question",), hub_pair=("sentence",),
)  # fmt: skip
RTE = _glue_task(
    "rte", "RTE", "RTE textual entailment, 2,490 train; GLUE dev (277) is the test set (Dagan et al. 2006 and "
    "successors)", _NLI2, *_PAIR, hub_config="rte", hub_text=("sentence1",), hub_pair=("sentence2",),
)  # fmt: skip
WNLI = _glue_task(
    "wnli", "WNLI", "WNLI Winograd entailment, 635 train; GLUE dev (71) is the test set (Levesque et al. 2012)",
    ("not_entailment", "entailment"), *_PAIR, hub_config="wnli", hub_text=("sentence1",), hub_pair=("sentence2",),
)  # fmt: skip
STSB = _glue_task(
    "stsb", "STS-B", "STS-B sentence similarity (regression, 0-5 scaled to 0-1), 5,749 train; GLUE dev (1,500) is "
    "the test set (Cer et al. 2017)", (), *_PAIR, label="score", hub_config="stsb", hub_text=("sentence1",),
    hub_pair=("sentence2",), problem_type=ProblemType.REGRESSION.value, target_range=(0.0, 5.0),
)  # fmt: skip
_MNLI3 = ("entailment", "neutral", "contradiction")
MNLI = _glue_task(
    "mnli", "MNLI", "MultiNLI, 392,702 train; GLUE dev matched (9,815) is the test set (Williams et al. 2018)",
    _MNLI3, *_PAIR, label="gold_label", test_stem="dev_matched", hub_test_split="validation_matched",
    hub_config="mnli", hub_text=("premise",), hub_pair=("hypothesis",),
)  # fmt: skip
MNLI_MISMATCHED = _glue_task(
    "mnli_mismatched", "MNLI", "MultiNLI, 392,702 train; GLUE dev mismatched (9,832) is the test set (Williams et "
    "al. 2018)", _MNLI3, *_PAIR, label="gold_label", test_stem="dev_mismatched",
    hub_test_split="validation_mismatched", hub_config="mnli", hub_text=("premise",), hub_pair=("hypothesis",),
)  # fmt: skip

GLUE_TASKS = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "mnli_mismatched", "qnli", "rte", "wnli")

# Per task: the metrics GLUE reports, the first one being the task's headline number.
GLUE_METRICS: dict[str, tuple[str, ...]] = {
    "cola": ("mcc",),
    "sst2": ("accuracy",),
    "mrpc": ("accuracy", "f1"),
    "qqp": ("accuracy", "f1"),
    "stsb": ("pearson", "spearman"),
    "mnli": ("accuracy",),
    "mnli_mismatched": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
}
SMALL_TASKS = ("cola", "mrpc", "rte", "stsb", "wnli")
"""Tasks small enough that one seed says little: they get ``wave_network.glue.GlueConfig.small_task_seeds`` seeds."""
"""The GLUE tasks in the benchmark's order; MNLI has a matched and a mismatched test set."""

CATALOG: dict[str, DatasetSpec] = {
    s.name: s
    for s in (AG_NEWS, AG_NEWS_SAMPLE, DBPEDIA_14, IMDB, SST2, COLA, MRPC, QQP, QNLI, RTE, WNLI, STSB, MNLI,
              MNLI_MISMATCHED)
}  # fmt: skip


def list_datasets() -> list[tuple[str, str]]:
    """``(name, description)`` for every named data set, in catalogue order. Any Hugging Face data set can
    also be named as ``hf:owner/name`` (or ``hf:owner/name:config``), and local files through
    ``DataConfig.train_file``."""
    return [(spec.name, spec.description) for spec in CATALOG.values()]


def get_spec(name: str) -> DatasetSpec | None:
    """The named data set ``name``, or ``None`` when it is not in the catalogue."""
    return CATALOG.get(name)


_TEXT_SUFFIXES = (
    ".csv",
    ".csv.gz",
    ".tsv",
    ".tsv.gz",
    ".jsonl",
    ".jsonl.gz",
    ".json",
    ".json.gz",
    ".parquet",
)


def generic_layouts(config: str | None = None) -> tuple[Layout, ...]:
    """Layouts tried for a data set outside the catalogue (``hf:owner/name`` or a local directory): the hub's
    parquet conversion (in ``<config>/`` when a config is named), then ``train.*`` / ``test.*`` files in any
    supported format. The test split falls back to ``validation`` then ``dev``; columns come from
    ``DataConfig``."""
    subdirs = (config, "data") if config else ("data",)
    parquet = Layout(
        name="hf-parquet",
        description=f"Hugging Face parquet files ({subdirs[0]}/train-*.parquet, {subdirs[0]}/test-*.parquet)",
        train=FileSpec(_parquet("train", *subdirs)),
        test=FileSpec(_parquet("test", *subdirs) + _parquet("validation", *subdirs)),
        classes_file=None,
    )
    files = Layout(
        name="files",
        description="train.{csv,tsv,jsonl,json,parquet}[.gz] + test.* (or validation.*, dev.*)",
        train=FileSpec(tuple(f"train{s}" for s in _TEXT_SUFFIXES)),
        test=FileSpec(tuple(f"{split}{s}" for split in ("test", "validation", "dev") for s in _TEXT_SUFFIXES)),
        classes_file=None,
    )
    return (parquet, files)
