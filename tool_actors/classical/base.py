"""What every classical tool shares: per-image processing, tiny-image pass-through, registration.

A classical tool is a ``Tool`` whose ``restore`` maps one ``uint8 (H, W, 3)`` image to another.
``process`` applies it image by image, so a batch gives exactly the per-image results. Images
whose shorter side is below the tool's ``min_work_side`` are returned unchanged: an estimator
(noise level, blur kernel, rain angle, …) has nothing to estimate from on a handful of pixels,
and returning the input is the one result that cannot make such an image worse.

``register`` puts a tool into ``TOOLS`` with its meaning as data: category, a one-line
description, the method and the parameters it was built with.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from restore_ray.names import check_category
from tool_actors.base import Tool
from tool_actors.registry import TOOLS, Entry


class ClassicalTool(Tool):
    """A deterministic CPU operator applied image by image.

    Parameters are keyword arguments of the subclass's ``__init__``; ``params`` records them.
    Classical tools always run on the CPU: the ``device`` a factory is given is not used, and
    ``device`` reads ``"cpu"``.
    """

    backend = "classical"
    min_work_side: ClassVar[int] = 1  # smaller images pass through unchanged

    def __init__(self, name: str, category: str, description: str, **params: Any) -> None:
        self.name = name
        self.category = check_category(category)
        self.description = description
        self.params: dict[str, Any] = dict(params)

    @abstractmethod
    def restore(self, image: np.ndarray) -> np.ndarray:
        """Restore one contiguous ``uint8 (H, W, 3)`` image; return ``uint8`` of the same shape."""

    def process(self, batch: np.ndarray) -> np.ndarray:
        out = np.empty_like(batch)
        for i, image in enumerate(batch):
            if min(image.shape[:2]) < self.min_work_side:
                out[i] = image
            else:
                out[i] = self.restore(np.ascontiguousarray(image))
        return out


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Round and clip a float image to ``uint8``."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def register(cls: type[ClassicalTool], name: str, category: str, description: str,
             method: str, **params: Any) -> None:
    """Register ``cls(**params)`` in ``TOOLS`` as an embedded classical tool called ``name``."""

    def factory(weights_dir: object = None, device: str = "cpu") -> ClassicalTool:
        return cls(name=name, category=category, description=description, **params)

    extra: Mapping[str, Any] = {"method": method, "params": dict(params), "min_work_side": cls.min_work_side}
    TOOLS.register(Entry(name=name, factory=factory, description=description, category=check_category(category),
                         backend="classical", embedded=True, extra=dict(extra)))
