"""The generic neural tool: a torch module behind the ``Tool`` interface.

``uint8 (N, H, W, 3)`` → float ``(n, 3, H, W)`` in ``[0, 1]`` on the tool's device and precision
→ padded to the architecture's size requirements (optionally cut into tiles) → the network under
``torch.inference_mode`` → cropped, clamped to ``[0, 1]``, rounded back to ``uint8``.

Images go through the network ``max_batch`` at a time: one at a time on the CPU, so a batch gives
bit for bit the per-image results, and up to 8 at a time on a GPU, where batching pays. Side
inputs a network needs besides the image (FFDNet's noise level) travel as ``conditions`` to the
model call; a subclass computes them from whole images, never per tile.

The module is loaded once, when the tool is built, and moved to the device then. On the CPU
the tool runs with whatever ``torch.set_num_threads`` the process has set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from restore_ray.names import check_category
from tool_actors.base import Tool
from tool_actors.neural.devices import device_name, inference_dtype, resolve_device
from tool_actors.neural.tiling import run_padded, run_tiled, tile_layout

ModelCall = Callable[[nn.Module, torch.Tensor, Any], torch.Tensor]
"""How a tool calls its network: ``call(model, x, conditions) -> y``, x and y (n, 3, H, W)."""


def plain_call(model: nn.Module, x: torch.Tensor, conditions: Any) -> torch.Tensor:
    """``model(x)``."""
    return model(x)


def first_output_call(model: nn.Module, x: torch.Tensor, conditions: Any) -> torch.Tensor:
    """``model(x)[0]``: for networks that also return side outputs (MPRNet's earlier stages, FBCNN's quality)."""
    return model(x)[0]


def to_tensor(images: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """uint8 (n, H, W, 3) → (n, 3, H, W) in [0, 1] on ``device`` as ``dtype`` (the input is copied)."""
    x = torch.tensor(images).to(device)  # (n, H, W, 3) uint8
    return x.permute(0, 3, 1, 2).to(dtype).div_(255.0)  # (n, 3, H, W) [0, 1]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(n, 3, H, W) float → uint8 (n, H, W, 3), clamped to [0, 1] and rounded."""
    y = x.float().clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    return y.permute(0, 2, 3, 1).contiguous().cpu().numpy()


class TorchTool(Tool):
    """A restoration network run on uint8 batches; see the module doc."""

    backend = "neural"

    def __init__(self, name: str, category: str, description: str, model: nn.Module,
                 device: str | torch.device = "cpu", *, supports_half: bool = False,
                 multiple_of: int = 1, minimum: int = 0, call: ModelCall = plain_call,
                 tile: int | None = None, tile_overlap: int = 32, max_batch: int | None = None) -> None:
        if multiple_of < 1 or minimum < 0:
            raise ValueError(f"size requirements must have multiple_of ≥ 1 and minimum ≥ 0, got {multiple_of}, {minimum}")
        if tile is not None:
            tile_layout(tile, tile_overlap, multiple_of)  # raises on a tile too small for its overlap
        self.name = name
        self.category = check_category(category)
        self.description = description
        self.multiple_of, self.minimum = int(multiple_of), int(minimum)
        self.tile, self.tile_overlap = tile, int(tile_overlap)
        self.call = call
        self.torch_device = resolve_device(device)
        self.device = device_name(self.torch_device)
        self.dtype = inference_dtype(self.torch_device, supports_half)
        self.model = model.eval().requires_grad_(False).to(device=self.torch_device, dtype=self.dtype)
        default_batch = 1 if self.torch_device.type == "cpu" else 8
        self.max_batch = int(max_batch) if max_batch is not None else default_batch
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be ≥ 1, got {max_batch}")

    def forward(self, x: torch.Tensor, conditions: Any) -> torch.Tensor:
        """The network on one (n, 3, H, W) tensor that meets the size requirements."""
        return self.call(self.model, x, conditions)

    def run(self, x: torch.Tensor, conditions: Any = None) -> torch.Tensor:
        """Padding or tiling around ``forward``: (n, 3, H, W) in, the same size out (not clamped)."""
        def fn(t: torch.Tensor) -> torch.Tensor:
            return self.forward(t, conditions)

        with torch.inference_mode():
            if self.tile is not None:
                return run_tiled(fn, x, self.tile, self.tile_overlap, self.multiple_of, self.minimum)
            return run_padded(fn, x, self.multiple_of, self.minimum)

    def process(self, batch: np.ndarray) -> np.ndarray:
        out = np.empty_like(batch)
        with torch.inference_mode():
            for start in range(0, len(batch), self.max_batch):
                images = batch[start:start + self.max_batch]
                x = to_tensor(images, self.torch_device, self.dtype)  # (n, 3, H, W) [0, 1]
                out[start:start + len(images)] = to_uint8(self.run(x))
        return out
