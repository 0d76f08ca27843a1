"""Intel Open Image Denoise through ``pyoidn`` (Apache-2.0): the trained U-Net ships inside the wheel.

OIDN's ``RT`` filter was trained on Monte-Carlo rendering noise; in LDR mode (``hdr=False``) it
takes colours in [0, 1] and is a blind denoiser with a fixed behaviour. The input is passed as
is, without OIDN's ``srgb`` flag: on the builtin noise set that flag weakens it by about 2 dB
(+6.6 dB instead of +8.6 dB ΔPSNR).

Each tool owns its OIDN device and filter, created once. On the CPU the device uses as many
threads as ``torch.get_num_threads()`` says when the tool is built, and does not pin threads to
cores. On CUDA it runs on the torch device's current stream, reading and writing CUDA tensors.
Calls are serialised with a lock (a filter holds one image binding at a time).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import torch

from restore_ray.names import check_category
from tool_actors.base import Tool, UnavailableError
from tool_actors.neural.devices import device_name, resolve_device

QUALITIES = ("high", "balanced", "fast")


class OIDNTool(Tool):
    """OIDN's RT filter (LDR) on each image."""

    backend = "neural"

    def __init__(self, name: str, category: str, description: str, device: str = "cpu", quality: str = "high") -> None:
        try:
            import pyoidn
        except ImportError as err:
            raise UnavailableError(f"package 'pyoidn' cannot be imported ({err}): pip install pyoidn==2.5.1.0") from err
        if quality not in QUALITIES:
            raise ValueError(f"OIDN quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
        self.name, self.category, self.description = name, check_category(category), description
        self.torch_device = resolve_device(device)
        self.device = device_name(self.torch_device)
        self.quality = quality
        self._lock = threading.Lock()
        self._pyoidn = pyoidn
        if self.torch_device.type == "cpu":
            if not pyoidn.Device.is_cpu_available():
                raise UnavailableError("OIDN's CPU device is not supported on this machine")
            self._device = pyoidn.Device(pyoidn.OIDN_DEVICE_TYPE_CPU)
            self._device.set_int("numThreads", max(1, torch.get_num_threads()))
            self._device.set_bool("setAffinity", False)
        else:
            index = self.torch_device.index or 0
            if not pyoidn.Device.is_cuda_available(index):
                raise UnavailableError(f"OIDN's CUDA device is not supported on {self.device}: use device='cpu'")
            self._device = pyoidn.Device.from_torch(self.torch_device, torch.cuda.current_stream(self.torch_device))
        self._device.commit()
        self._check("device creation")
        self._filter = pyoidn.Filter(self._device, pyoidn.OIDN_FILTER_TYPE_RT)
        self._check("filter creation")
        self._filter.set_bool("hdr", False)
        self._filter.set_bool("srgb", False)
        self._filter.set_quality({"high": pyoidn.OIDN_QUALITY_HIGH, "balanced": pyoidn.OIDN_QUALITY_BALANCED,
                                  "fast": pyoidn.OIDN_QUALITY_FAST}[quality])
        self._check("filter configuration")

    def _check(self, operation: str) -> None:
        message = self._device.get_error()
        if message is not None:
            raise RuntimeError(f"OIDN {operation} failed: {message}")

    def _denoise(self, image: np.ndarray) -> np.ndarray:
        pyoidn = self._pyoidn
        if self.torch_device.type == "cpu":
            color: Any = np.ascontiguousarray(image, dtype=np.float32) / np.float32(255.0)  # (H, W, 3) [0, 1]
            output: Any = np.empty_like(color)
        else:
            color = torch.tensor(image, device=self.torch_device).float().div_(255.0).contiguous()
            output = torch.empty_like(color)
        self._filter.set_image(pyoidn.OIDN_IMAGE_COLOR, color, pyoidn.OIDN_FORMAT_FLOAT3)
        self._filter.set_image(pyoidn.OIDN_IMAGE_OUTPUT, output, pyoidn.OIDN_FORMAT_FLOAT3)
        self._filter.commit()
        self._check("filter commit")
        self._filter.execute()
        self._device.wait()
        self._check("filter execution")
        if not isinstance(output, np.ndarray):
            output = output.cpu().numpy()
        return np.clip(np.rint(output * 255.0), 0, 255).astype(np.uint8)

    def process(self, batch: np.ndarray) -> np.ndarray:
        out = np.empty_like(batch)
        with self._lock:
            for i, image in enumerate(batch):
                out[i] = self._denoise(image)
        return out

    def close(self) -> None:
        """Release the OIDN filter and device (also done when the tool is garbage-collected)."""
        with self._lock:
            for handle in ("_filter", "_device"):
                obj = self.__dict__.pop(handle, None)
                if obj is not None:
                    obj.release()

    def __del__(self) -> None:
        # a plain try: at interpreter shutdown module globals such as ``contextlib`` may already be None
        try:
            self.close()
        except Exception:  # nothing useful to do while the interpreter exits
            pass
