"""The ``stats`` encoder: degradation statistics (``stats_features.FEATURES``), standardised.

Raw features live on very different scales (fractions, logarithms, slopes). The encoder subtracts
a fixed per-feature centre and divides by a fixed scale, both measured once on the clean and
degraded training crops of the builtin dataset (``data/stats_norm.json``, written by
``python -m tool_actors.encoders.stats_norm``), so outputs are roughly zero-mean, unit-variance
inputs for a small MLP. The constants are data, not learned at run time: the encoder stays a
pure function of the image.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from tool_actors.base import Encoder, InputError
from tool_actors.encoders.stats_features import FEATURE_NAMES, FEATURES, image_features
from tool_actors.registry import ENCODERS, Entry

NORM_FILE = "stats_norm.json"
MIN_SIDE = 16


@lru_cache(maxsize=1)
def normalisation() -> tuple[np.ndarray, np.ndarray]:
    """(centre, scale) per feature from ``data/stats_norm.json``; checks it matches ``FEATURES``."""
    text = resources.files("tool_actors.encoders").joinpath("data", NORM_FILE).read_text()
    norm = json.loads(text)
    names = tuple(norm["features"])
    if names != FEATURE_NAMES:
        raise RuntimeError(f"{NORM_FILE} lists features {names[:3]}… that differ from stats_features.FEATURES; "
                           "regenerate it with `python -m tool_actors.encoders.stats_norm`")
    centre = np.asarray(norm["centre"], np.float32)
    scale = np.asarray(norm["scale"], np.float32)
    return centre, scale


class StatsEncoder(Encoder):
    """Standardised degradation statistics, one image at a time (no batching gain on CPU)."""

    name = "stats"
    dim = len(FEATURES)
    description = f"{len(FEATURES)} hand-crafted degradation statistics (brightness, noise, blur, JPEG, haze, rain, colour)"

    def __init__(self, device: str = "cpu", standardise: bool = True) -> None:
        import cv2

        cv2.setNumThreads(1)  # per-image work is small; threads only add contention inside actors
        self.device = "cpu"
        self.standardise = standardise
        self._centre, self._scale = normalisation() if standardise else (None, None)

    def encode(self, batch: np.ndarray) -> np.ndarray:
        if min(batch.shape[1:3]) < MIN_SIDE:
            raise InputError(f"encoder 'stats': images must be at least {MIN_SIDE}×{MIN_SIDE} pixels, "
                             f"got {batch.shape[1]}×{batch.shape[2]}")
        raw = np.stack([image_features(img) for img in batch])  # (N, dim)
        if not self.standardise:
            return raw
        return (raw - self._centre) / self._scale


ENCODERS.register(Entry(
    name=StatsEncoder.name,
    factory=lambda weights_dir=None, device="cpu": StatsEncoder(device=device),
    description=StatsEncoder.description,
    embedded=True,
    extra={"dim": StatsEncoder.dim, "features": [name for name, _ in FEATURES]},
))
