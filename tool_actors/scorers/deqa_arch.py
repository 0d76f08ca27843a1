"""The mPLUG-Owl2 architecture of DeQA-Score, built offline on pyiqa's vendored port.

pyiqa 0.1.16 ships a transformers-5 port of mPLUG-Owl2 (Q-Align's model, the same architecture
DeQA-Score fine-tunes) in ``pyiqa/archs/q_align/``. Two things keep it from being used as is:

* ``MPLUGOwl2LlamaForCausalLM.__init__`` loads a tokenizer and an image processor from the hub
  repository ``q-future/one-align`` (a download). ``DeQAOwl2`` builds the same modules without it.
* ``MplugOwlVisualAbstractorModel.forward`` calls ``self.invert_attention_mask``, a
  ``PreTrainedModel`` helper that transformers 5 removed. ``_Abstractor`` restores it with the
  transformers-4 definition (1 → 0, 0 → the dtype's most negative value).

Importing pyiqa's module also registers ``mplug_owl2`` with transformers' Auto classes and swaps
in its modality-adaptive LLaMA attention (``replace_llama_modality_adaptive``), which is how the
original code runs too. Parameter names are unchanged, so DeQA-Score checkpoints load directly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def owl2_modules() -> dict[str, Any]:
    """pyiqa's mPLUG-Owl2 classes (imported lazily: it pulls in transformers' LLaMA)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyiqa.archs.q_align import configuration_mplug_owl2 as conf
        from pyiqa.archs.q_align import modeling_mplug_owl2 as modeling
        from pyiqa.archs.q_align import visual_encoder as visual
    return {"conf": conf, "modeling": modeling, "visual": visual}


def _classes() -> tuple[type, type]:
    """Build (config class, model class) once; they subclass pyiqa's, so they need it imported."""
    global _CACHE
    if _CACHE is not None:
        return _CACHE
    from transformers import LlamaForCausalLM, LlamaModel

    m = owl2_modules()
    conf, modeling, visual = m["conf"], m["modeling"], m["visual"]

    class _Abstractor(visual.MplugOwlVisualAbstractorModel):
        """The visual abstractor with transformers-4's ``invert_attention_mask``."""

        def invert_attention_mask(self, mask: torch.Tensor) -> torch.Tensor:
            ext = mask[:, None, :, :] if mask.dim() == 3 else mask[:, None, None, :]
            ext = ext.to(dtype=self.dtype)
            return (1.0 - ext) * torch.finfo(self.dtype).min

    class _Owl2Model(modeling.MPLUGOwl2LlamaModel):
        """LLaMA decoder + ViT vision tower + visual abstractor, as in mPLUG-Owl2."""

        def __init__(self, config: Any) -> None:
            LlamaModel.__init__(self, config)
            self.vision_model = visual.MplugOwlVisionModel(
                conf.MplugOwlVisionConfig(**config.visual_config["visual_model"]))
            self.visual_abstractor = _Abstractor(
                conf.MplugOwlVisualAbstractorConfig(**config.visual_config["visual_abstractor"]),
                config.hidden_size)

    class DeQAOwl2(modeling.MPLUGOwl2LlamaForCausalLM):
        """mPLUG-Owl2 causal LM whose constructor touches no hub repository."""

        config_class = conf.MPLUGOwl2Config

        def __init__(self, config: Any) -> None:
            super(LlamaForCausalLM, self).__init__(config)  # LlamaPreTrainedModel.__init__
            self.model = _Owl2Model(config)
            self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
            self.post_init()

    _CACHE = (conf.MPLUGOwl2Config, DeQAOwl2)
    return _CACHE


_CACHE: tuple[type, type] | None = None


def config_class() -> type:
    """``MPLUGOwl2Config`` (pyiqa's)."""
    return _classes()[0]


def model_class() -> type:
    """``DeQAOwl2``: load with ``model_class().from_pretrained(local_dir)``."""
    return _classes()[1]


IMAGE_TOKEN_INDEX = -200  # placeholder id the model replaces with the visual tokens
