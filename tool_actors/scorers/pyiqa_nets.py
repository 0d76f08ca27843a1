"""pyiqa's learned no-reference metrics (the paper's Table 3 alternatives), weights from a local folder.

pyiqa downloads checkpoints (and backbones) at run time; here every file comes from the weights
directory and nothing is fetched:

| scorer  | files expected in the weights directory | backbone |
| ------- | ---------------------------------------- | -------- |
| musiq   | ``pyiqa/musiq_koniq_ckpt-e95806b9.pth`` | none (MUSIQ is self-contained) |
| maniqa  | ``pyiqa/ckpt_koniq10k.pt``              | the ViT-B/8 inside the MANIQA checkpoint; timm is told not to fetch ImageNet weights |
| clipiqa | ``clip/RN50.pt``                        | OpenAI CLIP RN50 (the JIT archive or its state dict); CLIP-IQA's prompts need no weights |

The ``pyiqa/`` names are pyiqa's own file names, so a copy of pyiqa's cache folder
(``~/.cache/torch/hub/pyiqa``) serves as ``WEIGHTS/pyiqa``; ``clip/RN50.pt`` is the file the
``clip`` package caches in ``~/.cache/clip``. All three are higher-is-better.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from tool_actors.base import InputError, Scorer, UnavailableError
from tool_actors.registry import SCORERS, Entry
from tool_actors.scorers.tensor import resolve_device, to_tensor
from tool_actors.weights import weights_file

MUSIQ_FILE = "pyiqa/musiq_koniq_ckpt-e95806b9.pth"
MANIQA_FILE = "pyiqa/ckpt_koniq10k.pt"
CLIP_RN50_FILE = "clip/RN50.pt"

_IMPORT_LOCK = threading.Lock()  # guards temporary module-level substitutions


def load_state_dict(path: os.PathLike | str) -> dict[str, Any]:
    """A checkpoint's state dict: the file itself, or its ``params``/``state_dict`` entry; ``module.`` stripped."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(state, dict):
        for key in ("params", "state_dict", "params_ema"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise UnavailableError(f"{path}: expected a state dict, got {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items()}


@contextmanager
def _timm_without_downloads(module: Any) -> Iterator[None]:
    """Within the block, ``module.timm.create_model`` builds architectures with ``pretrained=False``."""
    import timm

    def create_model(name: str, pretrained: bool = False, **kwargs: Any) -> Any:
        return timm.create_model(name, pretrained=False, **kwargs)

    with _IMPORT_LOCK:
        original = module.timm
        module.timm = SimpleNamespace(create_model=create_model)
        try:
            yield
        finally:
            module.timm = original


def build_musiq(weights_dir: str | os.PathLike | None) -> torch.nn.Module:
    """MUSIQ (KonIQ-10k head: one score, 0–100) with its checkpoint loaded strictly."""
    from pyiqa.archs.musiq_arch import MUSIQ

    net = MUSIQ(num_class=1, pretrained=False)
    net.load_state_dict(load_state_dict(weights_file(MUSIQ_FILE, weights_dir)), strict=True)
    return net


def build_maniqa(weights_dir: str | os.PathLike | None) -> torch.nn.Module:
    """MANIQA (KonIQ-10k, pyiqa's ``scale=0.8``); the checkpoint carries the ViT-B/8 backbone too."""
    from pyiqa.archs import maniqa_arch

    with _timm_without_downloads(maniqa_arch):
        net = maniqa_arch.MANIQA(train_dataset="koniq", scale=0.8, pretrained=False)
    net.load_state_dict(load_state_dict(weights_file(MANIQA_FILE, weights_dir)), strict=True)
    return net


def _import_clipiqa() -> Any:
    """pyiqa's CLIPIQA class.

    pyiqa imports the ``clip`` package (openai-clip 1.0.1), whose ``clip.py`` does
    ``from pkg_resources import packaging`` only to compare torch versions; setuptools ≥ 81 no
    longer ships ``pkg_resources``. When it is missing, a stand-in module exposing just
    ``packaging`` is placed in ``sys.modules`` for the duration of that import and removed after.
    """
    import importlib
    import importlib.util
    import sys
    import types

    if "pyiqa.archs.clipiqa_arch" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return importlib.import_module("pyiqa.archs.clipiqa_arch").CLIPIQA
    import packaging.version

    with _IMPORT_LOCK:
        stand_in = types.ModuleType("pkg_resources")
        stand_in.packaging = packaging  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = stand_in
        try:
            return importlib.import_module("pyiqa.archs.clipiqa_arch").CLIPIQA
        finally:
            if sys.modules.get("pkg_resources") is stand_in:
                del sys.modules["pkg_resources"]


def _load_clip(path: str, device: str = "cpu", **_: Any) -> torch.nn.Module:
    """An OpenAI CLIP model from a JIT archive or a plain state dict (pyiqa's ``build_model``).

    pyiqa's own ``clip_model.load`` cannot read a plain state dict (it retries on a file handle
    that the failed JIT attempt has already consumed); this reads either format.
    """
    from pyiqa.archs.clip_model import build_model

    try:
        state = torch.jit.load(path, map_location="cpu").state_dict()
    except RuntimeError:
        state = load_state_dict(path)
    return build_model({k: v for k, v in state.items()}).to(device).float().eval()


def build_clipiqa(weights_dir: str | os.PathLike | None) -> torch.nn.Module:
    """CLIP-IQA with pyiqa's prompt ensemble on a local OpenAI CLIP RN50."""
    CLIPIQA = _import_clipiqa()
    from pyiqa.archs import clipiqa_arch

    path = str(weights_file(CLIP_RN50_FILE, weights_dir))
    with _IMPORT_LOCK:
        original = clipiqa_arch.load
        clipiqa_arch.load = _load_clip
        try:
            return CLIPIQA(model_type="clipiqa", backbone=path, pretrained=False)
        finally:
            clipiqa_arch.load = original


class PyiqaNetScorer(Scorer):
    """A pyiqa network taking ``(N, 3, H, W)`` in [0, 1] and returning one score per image."""

    def __init__(self, name: str, build: Callable[[str | os.PathLike | None], torch.nn.Module],
                 weights_dir: str | os.PathLike | None, device: str, score_range: tuple[float, float],
                 description: str, min_side: int) -> None:
        self.name = name
        self.higher_is_better = True
        self.score_range = score_range
        self.description = description
        self.device = str(device)
        self.min_side = min_side
        self._dev = resolve_device(device)
        self._net = build(weights_dir).to(self._dev).eval()
        for p in self._net.parameters():
            p.requires_grad_(False)

    def score(self, batch: np.ndarray) -> np.ndarray:
        if min(batch.shape[1:3]) < self.min_side:
            raise InputError(f"scorer {self.name!r}: images must be at least {self.min_side}×{self.min_side} "
                             f"pixels, got {batch.shape[1]}×{batch.shape[2]}")
        with torch.inference_mode():
            out = self._net(to_tensor(batch, self._dev))
        return out.reshape(batch.shape[0], -1)[:, 0].float().cpu().numpy()


# name, builder, weights file, score range, min side, description, backbone note
_SPECS: tuple[tuple[str, Callable[[Any], torch.nn.Module], str, tuple[float, float], int, str], ...] = (
    ("musiq", build_musiq, MUSIQ_FILE, (0.0, 100.0), 32,
     "MUSIQ (KonIQ-10k), multi-scale image quality transformer; MOS-like 0–100, higher is better"),
    ("maniqa", build_maniqa, MANIQA_FILE, (0.0, 1.0), 224,
     "MANIQA (KonIQ-10k), ViT-B/8 + transposed-attention blocks; 0–1, higher is better"),
    ("clipiqa", build_clipiqa, CLIP_RN50_FILE, (0.0, 1.0), 32,
     "CLIP-IQA, antonym-prompt ensemble on OpenAI CLIP RN50; 0–1, higher is better"),
)


def _factory(name: str, build: Callable[[Any], torch.nn.Module], score_range: tuple[float, float],
             min_side: int, description: str) -> Callable[..., Scorer]:
    def make(weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> Scorer:
        return PyiqaNetScorer(name, build, weights_dir, device, score_range, description, min_side)

    return make


for _name, _build, _file, _range, _min_side, _desc in _SPECS:
    SCORERS.register(Entry(
        name=_name,
        factory=_factory(_name, _build, _range, _min_side, _desc),
        description=_desc,
        category="NR",
        backend="neural",
        weights=(_file,),
        extra={"higher_is_better": True, "score_range": _range, "min_side": _min_side,
               "source": f"pyiqa 0.1.16 {_name} architecture, local weights only"},
    ))
