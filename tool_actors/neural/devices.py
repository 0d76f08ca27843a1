"""Device and precision choices for neural tools.

A tool is built for one device, named as a string: ``"cpu"``, ``"cuda"`` (the current CUDA
device) or ``"cuda:N"``. Asking for CUDA where torch sees none is an ``UnavailableError`` that
says so; a malformed name is a ``ValueError``.

Precision: fp16 on CUDA when the architecture supports it (spandrel's descriptor says so),
fp32 otherwise and always on the CPU.
"""

from __future__ import annotations

import re

import torch

from tool_actors.base import UnavailableError

_DEVICE = re.compile(r"^(cpu|cuda)(:(\d+))?$")


def resolve_device(device: str | torch.device) -> torch.device:
    """The ``torch.device`` for ``device``; ``UnavailableError`` if it is a CUDA device torch cannot use."""
    text = str(device).strip().lower()
    match = _DEVICE.match(text)
    if match is None or (match.group(1) == "cpu" and match.group(3) is not None):
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")
    if match.group(1) == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UnavailableError(f"device {text!r} was asked for, but torch sees no CUDA GPU here: use device='cpu'")
    index = int(match.group(3)) if match.group(3) is not None else torch.cuda.current_device()
    count = torch.cuda.device_count()
    if index >= count:
        raise UnavailableError(f"device {text!r} was asked for, but torch sees only {count} CUDA GPU(s) (cuda:0..cuda:{count - 1})")
    return torch.device("cuda", index)


def inference_dtype(device: torch.device, supports_half: bool) -> torch.dtype:
    """fp16 on CUDA for architectures that support it, else fp32."""
    return torch.float16 if device.type == "cuda" and supports_half else torch.float32


def device_name(device: torch.device) -> str:
    """The canonical string of a device: ``"cpu"`` or ``"cuda:N"``."""
    return "cpu" if device.type == "cpu" else f"cuda:{device.index if device.index is not None else 0}"
