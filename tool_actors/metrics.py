"""Full-reference metrics for evaluation: PSNR, SSIM and (with weights) LPIPS, on uint8 RGB arrays.

Conventions (pyiqa's, which the paper's tables use):

* **PSNR**: RGB, all three channels, intensities scaled to [0, 1], ``10·log10(1 / (MSE + 1e-8))``.
  Identical images therefore give 80 dB rather than infinity, so averages stay finite.
* **SSIM**: Wang et al. (2004) on the luma Y = round(255·(0.299 R + 0.587 G + 0.114 B)) (the Y of
  YIQ), data range 255, 11×11 Gaussian window with σ = 1.5, "valid" filtering (no padding), no
  downsampling, K1 = 0.01, K2 = 0.03, the contrast-structure term clipped at 0, mean over the map.
  This matches pyiqa's ``ssim`` (its calibration images give [0.6997, 0.9978, 0.9989, 0.9671, 0.6522]).
* **LPIPS** (Zhang et al., 2018), AlexNet variant v0.1: needs two files in the weights directory
  (``lpips/alexnet-owt-7be5be79.pth``, torchvision's ImageNet AlexNet, and
  ``lpips/lpips_alex_v0.1.pth``, the five linear calibration layers ``lin0…lin4`` from the LPIPS
  release, either the ``lpips`` package's ``weights/v0.1/alex.pth`` or pyiqa's
  ``LPIPS_v0.1_alex-df73285e.pth``). Without them ``lpips`` raises ``UnavailableError`` naming the
  missing file; ``lpips_available`` says so without raising. Lower is better.

``psnr(a, b)``/``ssim(a, b)`` take two ``uint8 (H, W, 3)`` images; ``psnr_batch``/``ssim_batch``
take two ``(N, H, W, 3)`` batches and return ``float64 (N,)``.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from tool_actors.base import InputError, UnavailableError
from tool_actors.weights import missing_reason, weights_file

PSNR_EPS = 1e-8  # on the [0, 1] scale: identical images give 80 dB
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
LPIPS_BACKBONE = "lpips/alexnet-owt-7be5be79.pth"
LPIPS_LINEAR = "lpips/lpips_alex_v0.1.pth"


def _pair(a: np.ndarray, b: np.ndarray, batched: bool) -> tuple[np.ndarray, np.ndarray]:
    """Check two uint8 RGB images (or batches) of the same shape."""
    ndim = 4 if batched else 3
    what = "(N, H, W, 3)" if batched else "(H, W, 3)"
    for name, x in (("first", a), ("second", b)):
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != ndim or x.shape[-1] != 3:
            got = f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}"
            raise InputError(f"metrics: the {name} argument must be a uint8 {what} RGB array, got {got}")
    if a.shape != b.shape:
        raise InputError(f"metrics: the images differ in shape: {a.shape} vs {b.shape} (compare a restored "
                         "image with the ground truth of the same size)")
    return a, b


def psnr_batch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR in dB of each pair in two ``uint8 (N, H, W, 3)`` batches (RGB, data range 1 after /255)."""
    a, b = _pair(a, b, batched=True)
    diff = (a.astype(np.float64) - b.astype(np.float64)) / 255.0
    mse = np.mean(diff * diff, axis=(1, 2, 3))
    return 10.0 * np.log10(1.0 / (mse + PSNR_EPS))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two ``uint8 (H, W, 3)`` images."""
    a, b = _pair(a, b, batched=False)
    return float(psnr_batch(a[None], b[None])[0])


@lru_cache(maxsize=1)
def _gaussian_window() -> np.ndarray:
    """MATLAB ``fspecial('gaussian', 11, 1.5)``."""
    half = (SSIM_WINDOW - 1) / 2.0
    ax = np.arange(-half, half + 1)
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2.0 * SSIM_SIGMA**2))
    g[g < np.finfo(np.float64).eps * g.max()] = 0.0
    return g / g.sum()


def _luma255(img: np.ndarray) -> np.ndarray:
    """Rounded Y of YIQ on the 0–255 scale, float64."""
    x = img.astype(np.float64) / 255.0
    return np.round(255.0 * (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]))


def _valid_filter(x: np.ndarray, win: np.ndarray) -> np.ndarray:
    full = cv2.filter2D(x, cv2.CV_64F, win, borderType=cv2.BORDER_CONSTANT)
    k = win.shape[0] // 2
    return full[k:x.shape[0] - k, k:x.shape[1] - k]


def _ssim_luma(x: np.ndarray, y: np.ndarray) -> float:
    win = _gaussian_window()
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    mu1, mu2 = _valid_filter(x, win), _valid_filter(y, win)
    s11 = _valid_filter(x * x, win) - mu1 * mu1
    s22 = _valid_filter(y * y, win) - mu2 * mu2
    s12 = _valid_filter(x * y, win) - mu1 * mu2
    cs = np.maximum((2.0 * s12 + c2) / (s11 + s22 + c2), 0.0)
    return float(np.mean((2.0 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1) * cs))


def ssim_batch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM of each pair in two ``uint8 (N, H, W, 3)`` batches (pyiqa's convention, see the module doc)."""
    a, b = _pair(a, b, batched=True)
    if min(a.shape[1:3]) < SSIM_WINDOW:
        raise InputError(f"ssim: images must be at least {SSIM_WINDOW}×{SSIM_WINDOW} pixels, got {a.shape[1]}×{a.shape[2]}")
    return np.array([_ssim_luma(_luma255(x), _luma255(y)) for x, y in zip(a, b)], dtype=np.float64)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two ``uint8 (H, W, 3)`` images."""
    a, b = _pair(a, b, batched=False)
    return float(ssim_batch(a[None], b[None])[0])


# --------------------------------------------------------------------------------------------- LPIPS
def lpips_available(weights_dir: str | os.PathLike | None = None) -> tuple[bool, str]:
    """(available, reason or 'ok') for LPIPS, without loading anything."""
    for name in (LPIPS_BACKBONE, LPIPS_LINEAR):
        reason = missing_reason(name, weights_dir)
        if reason:
            return False, f"LPIPS is unavailable: {reason}"
    return True, "ok"


class LPIPS:
    """LPIPS v0.1 with the AlexNet trunk: unit-normalised features of 5 layers, weighted squared
    differences (learned 1×1 linear layers), spatial mean, summed over layers.

    Inputs are scaled to [−1, 1] and then by LPIPS's ``(x − shift) / scale`` with
    shift = (−0.030, −0.088, −0.188), scale = (0.458, 0.448, 0.450).
    """

    SHIFT = (-0.030, -0.088, -0.188)
    SCALE = (0.458, 0.448, 0.450)
    RELU_LAYERS = (1, 4, 7, 9, 11)  # indices of the ReLUs after conv1…conv5 in torchvision's AlexNet.features

    def __init__(self, weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> None:
        import torch
        import torchvision

        ok, reason = lpips_available(weights_dir)
        if not ok:
            raise UnavailableError(reason)
        self._torch = torch
        self.device = torch.device(device)
        alex = torchvision.models.alexnet(weights=None)
        alex.load_state_dict(torch.load(weights_file(LPIPS_BACKBONE, weights_dir), map_location="cpu",
                                        weights_only=True))
        self._features = alex.features[: self.RELU_LAYERS[-1] + 1].to(self.device).eval()
        self._lin = [w.to(self.device) for w in _linear_layers(torch.load(weights_file(LPIPS_LINEAR, weights_dir),
                                                                          map_location="cpu", weights_only=True))]
        self._shift = torch.tensor(self.SHIFT, device=self.device).view(1, 3, 1, 1)
        self._scale = torch.tensor(self.SCALE, device=self.device).view(1, 3, 1, 1)

    def _taps(self, x: Any) -> list[Any]:
        out, h = [], (x * 2.0 - 1.0 - self._shift) / self._scale
        for i, layer in enumerate(self._features):
            h = layer(h)
            if i in self.RELU_LAYERS:
                out.append(h)
        return out

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """LPIPS distance of each pair in two ``uint8 (N, H, W, 3)`` batches, float64 (N,)."""
        torch = self._torch
        a, b = _pair(a, b, batched=True)

        def tensor(x: np.ndarray) -> Any:
            return torch.from_numpy(x).to(self.device).permute(0, 3, 1, 2).float() / 255.0  # (N, 3, H, W)

        with torch.inference_mode():
            total = torch.zeros(a.shape[0], device=self.device, dtype=torch.float32)
            for fa, fb, w in zip(self._taps(tensor(a)), self._taps(tensor(b)), self._lin):
                na = fa / (fa.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
                nb = fb / (fb.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
                total += ((na - nb).pow(2) * w.view(1, -1, 1, 1)).sum(dim=1).mean(dim=(1, 2))
        return total.double().cpu().numpy()


def _linear_layers(state: dict[str, Any]) -> list[Any]:
    """The five 1×1 calibration weights from an LPIPS state dict (``…lin{k}.model.1.weight``)."""
    found: dict[int, Any] = {}
    for key, value in state.items():
        m = re.search(r"lin(\d)\.model\.1\.weight$", key)
        if m:
            found[int(m.group(1))] = value.reshape(-1).float()
    if sorted(found) != [0, 1, 2, 3, 4]:
        raise UnavailableError(f"{LPIPS_LINEAR}: expected keys lin0…lin4 '.model.1.weight' (the LPIPS v0.1 "
                               f"AlexNet linear layers), found {sorted(found) or 'none'}")
    return [found[k] for k in range(5)]


@lru_cache(maxsize=2)
def _lpips_model(weights_dir: str | None, device: str) -> LPIPS:
    return LPIPS(weights_dir, device)


def lpips_batch(a: np.ndarray, b: np.ndarray, weights_dir: str | os.PathLike | None = None,
                device: str = "cpu") -> np.ndarray:
    """LPIPS of each pair (the model is loaded once per weights directory and device)."""
    return _lpips_model(None if weights_dir is None else str(weights_dir), device)(a, b)


def lpips(a: np.ndarray, b: np.ndarray, weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> float:
    """LPIPS of two ``uint8 (H, W, 3)`` images."""
    a, b = _pair(a, b, batched=False)
    return float(lpips_batch(a[None], b[None], weights_dir, device)[0])
