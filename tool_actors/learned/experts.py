"""Small learned restoration experts, registered in ``TOOLS`` as embedded neural tools.

Each is an ``ExpertNet`` (a residual U-Net under 1 M parameters, ≤ 5 MB of weights) trained by
``restore-ray tools train CATEGORY`` on synthetic pairs made by the project's own degradation
code from the builtin TRAIN photographs. Weights are loaded once per instance.

Any image size works: each image is padded at the bottom and right (mirror padding; edge
replication when a side is a single pixel) to a multiple of 8, which keeps JPEG's block grid
where the encoder put it, restored, then cropped back. Images larger than ``tile`` (512) pixels
on a side are processed in overlapping tiles (``overlap`` 32 pixels of context on every side,
each output pixel taken from the tile it is deepest inside; tile corners on the 16-pixel grid of
JPEG's 4:2:0 macroblocks), so memory stays bounded. The
output is rounded and clipped to uint8. On CPU the result is a deterministic function of the
input, and a batch gives the same result as its images one by one.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from tool_actors.base import Tool
from tool_actors.learned import cards
from tool_actors.learned.nets import ExpertNet
from tool_actors.learned.train_expert import EXPERT_NAMES
from tool_actors.learned.training import to_tensor, to_uint8
from tool_actors.registry import TOOLS, Entry

DESCRIPTIONS: dict[str, str] = {
    "dejpeg": "learned JPEG artifact removal (blind quality, 0.8 M-parameter U-Net trained on synthetic JPEG pairs)",
    "deblur_defocus": "learned defocus deblurring (disk, Gaussian and mixed kernels; 0.8 M-parameter U-Net)",
    "deblur_motion": "learned motion deblurring (linear motion trails of any angle; 0.8 M-parameter U-Net)",
}

# The experts whose weights ship in the package (tool_actors/learned/weights/).
SHIPPED: tuple[str, ...] = ("dejpeg", "deblur_defocus")


def _pad_to(image: np.ndarray, multiple: int) -> np.ndarray:
    h, w = image.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return image
    mode = "reflect" if h > ph and w > pw else "symmetric" if h > 1 and w > 1 else "edge"
    if mode == "symmetric" and (ph > h or pw > w):
        mode = "edge"
    return np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)


class LearnedExpert(Tool):
    """A learned restoration expert: ``uint8 (N, H, W, 3)`` → same shape."""

    backend = "neural"
    tile = 512
    overlap = 32
    chunk = 1  # images per forward pass (one at a time: a batch gives bit-identical results to single calls)

    def __init__(self, category: str, weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> None:
        if category not in EXPERT_NAMES:
            raise ValueError(f"no learned expert for category {category!r}; known: {', '.join(EXPERT_NAMES)}")
        self.name = EXPERT_NAMES[category]
        self.category = category
        self.device = device
        self.description = DESCRIPTIONS[category]
        self.weights_path = cards.weights_path(self.name, weights_dir)
        model, card = cards.load(self.weights_path, "ExpertNet", device)
        if card.get("category") != category:
            raise ValueError(f"{self.weights_path} was trained for {card.get('category')!r}, not {category!r}")
        self.model: ExpertNet = model
        self.card = card
        self.multiple = model.config.multiple
        self.grid = math.lcm(self.multiple, 16)  # tile corners: the net's stride and JPEG's 16-pixel macroblocks

    @torch.no_grad()
    def _run(self, images: np.ndarray) -> np.ndarray:
        """Restore uint8 (n, h, w, 3) whose sides are multiples of ``self.multiple``."""
        dev = torch.device(self.device)
        return np.concatenate([to_uint8(self.model(to_tensor(images[i:i + self.chunk], dev)))
                               for i in range(0, len(images), self.chunk)])

    def _restore_one(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if max(h, w) <= self.tile:
            return self._run(_pad_to(image, self.multiple)[None])[0, :h, :w]
        out = np.empty_like(image)
        step = self.tile - 2 * self.overlap
        for y0 in range(0, h, step):
            for x0 in range(0, w, step):
                # context window around the core [y0, y0+step) × [x0, x0+step), on the macroblock grid
                cy0 = max(0, y0 - self.overlap) // self.grid * self.grid
                cx0 = max(0, x0 - self.overlap) // self.grid * self.grid
                cy1, cx1 = min(h, y0 + step + self.overlap), min(w, x0 + step + self.overlap)
                window = image[cy0:cy1, cx0:cx1]
                restored = self._run(_pad_to(window, self.multiple)[None])[0]
                y1, x1 = min(h, y0 + step), min(w, x0 + step)
                out[y0:y1, x0:x1] = restored[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        return out

    def process(self, batch: np.ndarray) -> np.ndarray:
        h, w = batch.shape[1:3]
        if max(h, w) <= self.tile:
            return self._run(np.stack([_pad_to(im, self.multiple) for im in batch]))[:, :h, :w]
        return np.stack([self._restore_one(im) for im in batch])


def _register(category: str) -> None:
    """Register the expert of ``category``: embedded when its weights ship in the package; otherwise a
    weights-folder tool that expects ``learned/NAME.safetensors`` + ``.json`` (``restore-ray tools train``)."""
    name = EXPERT_NAMES[category]
    shipped = category in SHIPPED
    files = (f"{cards.OVERRIDE_SUBDIR}/{name}.safetensors", f"{cards.OVERRIDE_SUBDIR}/{name}.json")
    TOOLS.register(Entry(
        name=name,
        factory=lambda weights_dir=None, device="cpu": LearnedExpert(category, weights_dir, device),
        description=DESCRIPTIONS[category],
        category=category,
        backend="neural",
        embedded=shipped,
        weights=() if shipped else files,
        check=(lambda: cards.missing_reason(name)) if shipped else None,
        extra={"weights_shipped": f"{name}.safetensors" if shipped else None, "pad_multiple": 8,
               "tile": LearnedExpert.tile},
    ))


for _category in DESCRIPTIONS:
    _register(_category)
