"""The problem types, in one place: what a data set's labels are, which loss a model computes and which metrics a
run reports. Three are the text classifiers' (Hugging Face's ``PretrainedConfig.problem_type`` values); the fourth,
``MASKED_LM``, is ``wave-network pretrain``'s objective (labels per token, not per text).

The classifiers' values are Hugging Face's ``PretrainedConfig.problem_type`` strings, so a saved ``config.json`` reads
the same in ``transformers``. ``ProblemType`` members are ``str``s and compare equal to those values; what is stored (a
config, ``results.json``, a YAML file) is the plain value (``.value``): ``yaml.safe_dump`` refuses enum members.

This module imports nothing of the package, so the data layer, the model configs and the baselines can all use it.
"""

from __future__ import annotations

import enum


class ProblemType(str, enum.Enum):
    """``SINGLE_LABEL``: one class per text (cross-entropy, accuracy). ``MULTI_LABEL``: any number of classes per
    text (binary cross-entropy per class). ``REGRESSION``: one number per text (mean squared error).
    ``MASKED_LM``: pre-training; the label of each masked token is its original id, ``IGNORE_INDEX`` elsewhere
    (cross-entropy over the masked tokens; BERT's masked-token objective, Devlin et al. 2019)."""

    SINGLE_LABEL = "single_label_classification"
    MULTI_LABEL = "multi_label_classification"
    REGRESSION = "regression"
    MASKED_LM = "masked_lm"

    # As ``enum.StrEnum`` (Python 3.11+; the package supports 3.10): ``str()`` and f-strings give the value.
    __str__ = str.__str__
    __format__ = str.__format__

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every value as a plain ``str``, in declaration order."""
        return tuple(member.value for member in cls)

    @classmethod
    def classifier_values(cls) -> tuple[str, ...]:
        """The values a text classifier's config may hold (every one but ``MASKED_LM``)."""
        return tuple(member.value for member in cls if member is not cls.MASKED_LM)


# The label of a token that no loss is computed for (PyTorch's ``cross_entropy`` default ``ignore_index``).
IGNORE_INDEX = -100


# The CLI's ``--task`` names: a data set's labels are single-label classes or regression targets (multi-label is a
# model-side option).
TASK_NAMES = {"classification": ProblemType.SINGLE_LABEL, "regression": ProblemType.REGRESSION}

__all__ = ["IGNORE_INDEX", "TASK_NAMES", "ProblemType"]
