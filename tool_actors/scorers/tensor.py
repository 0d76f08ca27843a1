"""Batch helpers shared by the scorers: tensor conversion, device checks, featureless images."""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(batch: np.ndarray | list[np.ndarray], device: str | torch.device = "cpu") -> torch.Tensor:
    """``uint8 (N, H, W, 3)`` (or a list of ``(H, W, 3)``) → ``float32 (N, 3, H, W)`` in [0, 1] on ``device``."""
    arr = np.ascontiguousarray(np.stack(batch) if isinstance(batch, list) else batch)
    if not arr.flags.writeable:  # torch warns on read-only memory (decoded files can be); the copy is small
        arr = arr.copy()
    x = torch.from_numpy(arr).to(device)  # (N, H, W, 3) uint8
    return x.permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, H, W) float32 [0, 1]


def resolve_device(device: str) -> torch.device:
    """``'cpu'``, ``'cuda'``, ``'cuda:1'`` … as a torch device; a clear error when CUDA is absent."""
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use device='cpu'")
    return dev


def constant_images(batch: np.ndarray) -> np.ndarray:
    """``bool (N,)``: which images are one flat colour (no structure for a statistic to measure).

    Natural-scene-statistics scorers (NIQE, BRISQUE) are undefined on them (zero local variance);
    they give such images the worst end of their calibrated range instead of a NaN.
    """
    flat = batch.reshape(batch.shape[0], -1, 3)
    return np.all(flat == flat[:, :1, :], axis=(1, 2))
