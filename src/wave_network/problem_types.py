"""The three problem types, in one place: what a data set's labels are, which loss a model computes and which
metrics a run reports.

The values are Hugging Face's ``PretrainedConfig.problem_type`` strings, so a saved ``config.json`` reads the same
in ``transformers``. ``ProblemType`` members are ``str``s and compare equal to those values; what is stored (a
config, ``results.json``, a YAML file) is the plain value (``.value``): ``yaml.safe_dump`` refuses enum members.

This module imports nothing of the package, so the data layer, the model configs and the baselines can all use it.
"""

from __future__ import annotations

import enum


class ProblemType(str, enum.Enum):
    """``SINGLE_LABEL``: one class per text (cross-entropy, accuracy). ``MULTI_LABEL``: any number of classes per
    text (binary cross-entropy per class). ``REGRESSION``: one number per text (mean squared error)."""

    SINGLE_LABEL = "single_label_classification"
    MULTI_LABEL = "multi_label_classification"
    REGRESSION = "regression"

    # As ``enum.StrEnum`` (Python 3.11+; the package supports 3.10): ``str()`` and f-strings give the value.
    __str__ = str.__str__
    __format__ = str.__format__

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every value as a plain ``str``, in declaration order."""
        return tuple(member.value for member in cls)


# The CLI's ``--task`` names: a data set's labels are single-label classes or regression targets (multi-label is a
# model-side option).
TASK_NAMES = {"classification": ProblemType.SINGLE_LABEL, "regression": ProblemType.REGRESSION}

__all__ = ["TASK_NAMES", "ProblemType"]
