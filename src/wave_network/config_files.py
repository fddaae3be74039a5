"""Run configurations as files, and dotted overrides of any field.

A run's configuration file (YAML or JSON) has three sections, one per config class::

    model:                       # the registered model and fields of its config (WaveConfig for the presets)
      name: paper-modulation
      hidden_size: 256
    data:                        # DataConfig fields
      dataset: ag_news_sample
      max_length: 128
    train:                       # TrainConfig fields (everything but model, model_overrides and data)
      learning_rate: 1.0e-3
      epochs: 4

Any field can be changed with a dotted override, ``train.learning_rate=3e-4``, ``data.max_length=256``,
``model.hidden_size=128`` (``train.lr`` is accepted for ``train.learning_rate``); a name that is not a field is
refused with the closest valid one. Every run directory holds its resolved configuration as ``run.yaml``
(``RUN_CONFIG``), itself a valid configuration file: ``wave-network train --config runs/<run>/run.yaml``
trains the same run again in a new directory.

Order of precedence: the file, then command-line flags, then ``--set`` overrides.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from .data import DataConfig

SECTIONS = ("model", "data", "train")
ALIASES = {"train.lr": "train.learning_rate"}
# TrainConfig fields that live in other sections of a file.
_TRAIN_ELSEWHERE = ("model", "model_overrides", "data")
# Fields that name where a run goes rather than what it is: a saved run.yaml leaves them unset.
_PER_RUN = {"train.output_dir": None, "train.resume": False}

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


class ConfigFileError(ValueError):
    """A configuration file or override that cannot be read or names no field."""


def train_fields() -> list[str]:
    from .training.config import TrainConfig

    return [f.name for f in fields(TrainConfig) if f.name not in _TRAIN_ELSEWHERE]


def data_fields() -> list[str]:
    return [f.name for f in fields(DataConfig)]


def model_fields(model: str) -> list[str] | None:
    """The fields a ``model.`` override may name for ``model``; ``None`` where the model's builder takes open-ended
    keyword arguments (its own checks then apply)."""
    from .configuration_wave import WaveConfig
    from .presets import list_presets

    if model in list_presets():
        import inspect

        return ["name"] + [p for p in inspect.signature(WaveConfig.__init__).parameters if p not in ("self", "kwargs")]
    return None


def parse_value(text: str) -> Any:
    """An override's value as YAML (numbers, booleans, null, strings, lists); text that is not valid YAML stays a
    string for the field's own check to accept or refuse. ``1e-5`` is a number (YAML 1.1 would read a string)."""
    if _NUMBER.fullmatch(text.strip()):
        return int(text) if _INTEGER.fullmatch(text.strip()) else float(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["train.lr=3e-4", "model.hidden_size=128"]`` as ``{"train.lr": 0.0003, "model.hidden_size": 128}``."""
    values: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigFileError(
                f"--set expects SECTION.FIELD=VALUE (for example --set train.learning_rate=3e-4), got {pair!r}"
            )
        values[key.strip()] = parse_value(value)
    return values


def read_file(path: Path, what: str) -> Any:
    """The YAML (or, for ``.json``, JSON) content of ``path``; an unreadable or malformed file is a
    ``ConfigFileError`` naming it and ``what`` it was meant to be."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigFileError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None


def load_file(path: str | Path) -> dict[str, Any]:
    """A configuration file's sections (``model``, ``data``, ``train``), checked for unknown sections; the
    ``model`` section may also be a bare model name."""
    path = Path(path)
    values = read_file(path, "the configuration file")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigFileError(f"{path}: expected a mapping with sections {', '.join(SECTIONS)}")
    if isinstance(values.get("model"), str):
        values["model"] = {"name": values["model"]}
    for section, content in values.items():
        if section not in SECTIONS:
            raise ConfigFileError(f"{path}: unknown section {section!r}{_suggest(section, SECTIONS)}")
        if content is not None and not isinstance(content, dict):
            raise ConfigFileError(f"{path}: section {section!r} must be a mapping of field: value")
    sections = {s: dict(values.get(s) or {}) for s in SECTIONS}
    for section in SECTIONS:
        for key in sections[section]:
            _check_name(f"{section}.{key}", sections, where=str(path))
    return sections


def apply(sections: dict[str, Any], overrides: dict[str, Any], where: str = "--set") -> dict[str, Any]:
    """``sections`` with dotted ``overrides`` applied (a new dict). A key without a section (``hidden_size=128``)
    is a model field, as the single-model ``--set`` has always read it."""
    result = copy.deepcopy({s: dict(sections.get(s) or {}) for s in SECTIONS})
    # the model's name first: which model fields exist depends on it
    ordered = sorted(overrides.items(), key=lambda item: item[0] not in ("model.name", "name"))
    for key, value in ordered:
        dotted = ALIASES.get(key, key)
        if "." not in dotted:
            dotted = f"model.{dotted}"
        section, _, name = dotted.partition(".")
        if section not in SECTIONS:
            raise ConfigFileError(f"{where} {key}: unknown section {section!r}{_suggest(section, SECTIONS)}")
        _check_name(dotted, result, where=where, typed=key)
        result[section][name] = value
    return result


def _check_name(dotted: str, sections: dict[str, Any], where: str, typed: str | None = None) -> None:
    """Refuse a name that is not a field of its section, with the closest valid one. ``typed`` is the name as the
    user wrote it: a bare model field (``num_layer``) is answered in the same form (``num_layers``)."""
    section, _, name = dotted.partition(".")
    dotted = ALIASES.get(dotted, dotted)
    name = dotted.partition(".")[2]
    if section == "train":
        known = train_fields()
    elif section == "data":
        known = data_fields()
    else:
        known = model_fields(str(sections.get("model", {}).get("name") or _default_model(sections.get("data") or {})))
        if known is None:
            return
    if name not in known:
        others = [
            f"{s}.{k}" for s, ks in (("train", train_fields()), ("data", data_fields())) if s != section for k in ks
        ]
        elsewhere = [k for k in [*others, *ALIASES] if k.partition(".")[2] == name]  # data.lr -> train.lr
        candidates = [f"{section}.{k}" for k in known] + [a for a in ALIASES if a.startswith(section + ".")] + others
        hint = f"; did you mean {elsewhere[0]!r}?" if elsewhere else _suggest(dotted, candidates, section)
        bare = typed is not None and "." not in typed
        if bare:  # answered as it was asked: --set num_layer -> did you mean 'num_layers'?
            hint = hint.replace(f"'{section}.", "'")
        separator = " " if where == "--set" else ": "
        raise ConfigFileError(f"{where}{separator}{typed if bare else dotted} is not a field{hint}")


def _suggest(name: str, known: Any, section: str | None = None) -> str:
    """``; did you mean 'x'?`` for the closest of ``known``, compared on the part after the section's dot; with no
    close one, the fields of ``section`` (or all of ``known``)."""
    known = list(known)
    by_field = {}
    for k in known:
        by_field.setdefault(k.rpartition(".")[2], k)
    close = difflib.get_close_matches(name.rpartition(".")[2], list(by_field), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {by_field[close[0]]!r}?"
    own = [k.partition(".")[2] for k in known if section and k.startswith(section + ".")]
    return f"; the {section} fields are {', '.join(own)}" if own else f"; expected one of {', '.join(known)}"


def _default_model(data: dict[str, Any]) -> str:
    """The model when none is named: the recommended ``OWN_DATA_MODEL`` for a user's own file (``wave-nb-fit``;
    ``OWN_DATA_FALLBACK``, ``wave-wide``, when the file is declared multi-label or regression, which wave-nb-fit's
    per-class fit cannot take), else ``TrainConfig.model``, the paper's modulation model on the named data sets."""
    from .problem_types import ProblemType
    from .training.config import OWN_DATA_FALLBACK, OWN_DATA_MODEL, TrainConfig

    if not data.get("train_file"):
        return TrainConfig.model
    if data.get("problem_type") in (ProblemType.MULTI_LABEL, ProblemType.REGRESSION):
        return OWN_DATA_FALLBACK
    return OWN_DATA_MODEL


def to_train_config(sections: dict[str, Any]):
    """The ``TrainConfig`` of a configuration's sections (each class validates its own fields)."""
    from .training.config import TrainConfig

    model = dict(sections.get("model") or {})
    name = model.pop("name", None) or _default_model(sections.get("data") or {})
    train = {
        ALIASES.get(f"train.{k}", f"train.{k}").partition(".")[2]: v for k, v in (sections.get("train") or {}).items()
    }
    return TrainConfig(model=name, model_overrides=model, data=DataConfig(**(sections.get("data") or {})), **train)


def from_train_config(cfg, *, keep_paths: bool = False) -> dict[str, Any]:
    """A configuration's sections from a ``TrainConfig`` (the inverse of ``to_train_config``). Unless
    ``keep_paths``, the run directory and resume fields are left unset, so the file trains the same run again in a
    new directory."""
    from .training.rundir import to_jsonable

    values = to_jsonable(cfg.to_dict())
    data = values.pop("data")
    model = {"name": values.pop("model"), **values.pop("model_overrides")}
    if not keep_paths:
        for dotted, default in _PER_RUN.items():
            values[dotted.partition(".")[2]] = default
    return {"model": model, "data": data, "train": values}


def dump(sections: dict[str, Any]) -> str:
    """YAML text of a configuration, sections in the order model, data, train."""
    from .training.rundir import to_jsonable

    plain = json.loads(json.dumps(to_jsonable({s: sections.get(s) or {} for s in SECTIONS})))
    return yaml.safe_dump(plain, sort_keys=False, default_flow_style=False)


def write(cfg, path: str | Path, *, keep_paths: bool = False) -> Path:
    """Write ``cfg`` (a ``TrainConfig``) as a configuration file that ``train --config`` accepts."""
    path = Path(path)
    path.write_text(
        "# wave-network run configuration: wave-network train --config THIS_FILE [--set SECTION.FIELD=VALUE]\n"
        + dump(from_train_config(cfg, keep_paths=keep_paths))
    )
    return path


def resolve(
    config_file: str | Path | None = None,
    flags: dict[str, Any] | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
):
    """The ``TrainConfig`` of a configuration file, then flags (dotted keys whose value is not ``None``), then
    dotted overrides, in that order of precedence."""
    sections = load_file(config_file) if config_file is not None else {s: {} for s in SECTIONS}
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    sections = apply(sections, given, where="option")
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    sections = apply(sections, overrides or {})
    return to_train_config(sections)
