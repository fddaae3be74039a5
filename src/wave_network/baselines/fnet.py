"""FNet (Lee-Thorp et al. 2022, arXiv 2105.03824) as a baseline: the ``transformers`` FNet architecture, trained from
scratch on the run's vocabulary (no pre-trained FNet weights exist offline; ``checkpoint="google/fnet-base"`` loads
them when online, with its own tokenizer).

Two departures from ``transformers``' ``FNetForSequenceClassification``, both about what a classifier needs:

* **Fixed length.** The Fourier sublayer mixes every position, padding included, and FNet has no attention mask;
  with dynamic padding a text's logits would depend on the other texts in its batch. As the FNet authors do, every
  input is padded to one fixed length (the run's ``max_length``), so a text always sees the same padding.
* **fp32 FFT.** The 2-D DFT runs in float32 even under bf16 autocast (bf16 FFTs lose most of their precision).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, FNetConfig, FNetForSequenceClassification
from transformers.models.fnet.modeling_fnet import FNetBasicFourierTransform

from .checkpoints import quiet_transformers, resolve_checkpoint

# A small FNet with a non-embedding size near the paper Wave model's 2.4M: 6 layers (the proof-of-life's FNet depth)
# of width 256 and feed-forward 1024.
SMALL_FNET = {"hidden_size": 256, "num_hidden_layers": 6, "intermediate_size": 1024}


def _fourier_fp32(hidden_states: torch.Tensor) -> torch.Tensor:
    """FFT over the sequence and hidden dimensions in float32; FNet keeps its real part (FNet Eq. 3)."""
    with torch.autocast(device_type=hidden_states.device.type, enabled=False):
        return torch.fft.fftn(hidden_states.float(), dim=(1, 2))


class FixedLengthFNetConfig(FNetConfig):
    """``FNetConfig`` plus ``fixed_length``: every input is padded to this many tokens."""

    model_type = "wave_network_fnet"

    def __init__(self, fixed_length: int = 512, **kwargs: Any):
        super().__init__(**kwargs)
        self.fixed_length = fixed_length


class FixedLengthFNetForSequenceClassification(FNetForSequenceClassification):
    """FNet classifier that pads every input to ``config.fixed_length`` and runs its FFT in float32."""

    config_class = FixedLengthFNetConfig

    def __init__(self, config: FixedLengthFNetConfig):
        super().__init__(config)
        for module in self.modules():
            if isinstance(module, FNetBasicFourierTransform):
                module.fourier_transform = _fourier_fp32

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,  # ignored: fixed-length padding replaces masking
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ):
        T = input_ids.shape[1]
        missing = self.config.fixed_length - T
        if missing < 0:
            raise ValueError(f"FNet input has {T} tokens, more than its fixed_length {self.config.fixed_length}")
        if missing:
            input_ids = F.pad(input_ids, (0, missing), value=self.config.pad_token_id or 0)  # (B, L)
            if token_type_ids is not None:
                token_type_ids = F.pad(token_type_ids, (0, missing), value=0)  # (B, L)
        return super().forward(input_ids=input_ids, token_type_ids=token_type_ids, labels=labels, **kwargs)


AutoConfig.register(FixedLengthFNetConfig.model_type, FixedLengthFNetConfig)
AutoModelForSequenceClassification.register(FixedLengthFNetConfig, FixedLengthFNetForSequenceClassification)


def build_fnet(
    num_labels: int,
    vocab_size: int,
    max_length: int | None = None,
    checkpoint: str | None = None,
    pad_token_id: int = 0,
    **config_overrides: Any,
) -> nn.Module:
    """FNet padded to ``max_length``: from scratch (``checkpoint=None``, the small size ``SMALL_FNET`` unless
    ``config_overrides`` say otherwise) or from pre-trained FNet weights."""
    fixed_length = max_length or 512
    if checkpoint is not None:
        path = resolve_checkpoint(checkpoint)
        with quiet_transformers():
            source = FNetForSequenceClassification.from_pretrained(path, num_labels=num_labels)
        if fixed_length > source.config.max_position_embeddings:
            raise ValueError(
                f"max_length {fixed_length} exceeds {path}'s {source.config.max_position_embeddings} positions"
            )
        config = FixedLengthFNetConfig(fixed_length=fixed_length, **{**source.config.to_dict(), **config_overrides})
        model = FixedLengthFNetForSequenceClassification(config)
        model.load_state_dict(source.state_dict())
        if model.get_input_embeddings().num_embeddings < vocab_size:
            raise ValueError(f"{path} has fewer token embeddings than the tokenizer: pass --tokenizer {path}")
        return model
    fields = {**SMALL_FNET, **config_overrides}
    config = FixedLengthFNetConfig(
        fixed_length=fixed_length,
        vocab_size=vocab_size,
        num_labels=num_labels,
        max_position_embeddings=max(fixed_length, 512),
        pad_token_id=pad_token_id,
        use_tpu_fourier_optimizations=False,
        **fields,
    )
    return FixedLengthFNetForSequenceClassification(config)
