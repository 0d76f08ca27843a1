"""Encoders with a learned degradation detector: ``detect`` (its 7 logits) and ``stats-detect``
(the ``stats`` vector with the 7 logits appended). Both are embedded; the agent's default encoder
stays ``stats``, which measured as well for the policy at less cost (``docs/agent.md``).

The detector, ``detect-small`` (a 0.40 M-parameter ``DetectorNet``, ``restore-ray encoders
train``), is trained without human labels on the builtin TRAIN photographs: random mixtures of
the seven degradations — any subset, any order, the paper's parameter ranges — labelled by which
were applied. Hand-made statistics see each degradation through a fixed formula that a second
degradation can mask (noise hides blur, haze hides darkness); the detector has seen every mixture.
Besides its own convolutional features, the detector's head reads the ``stats`` vector of the
image, so it starts from what the hand-made measures see and learns how mixtures change them.
Its logits are divided by ``LOGIT_SCALE`` and squashed like the statistics (``stats.squash``), so
every output lies in [−5, 5]. Weights are looked for as the other learned components' are
(``<weights dir>/learned/detect-small.safetensors``, else the shipped copy).

Images are read at their own resolution (the network is fully convolutional and pools over
space); sides below the network's 16 pixels are enlarged by pixel replication, and images whose
longer side exceeds ``max_side`` (1024) are area-downscaled first, which bounds time and memory.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from restore_ray.names import DEGRADATIONS
from tool_actors.base import Encoder
from tool_actors.encoders.stats import SQUASH, StatsEncoder, _at_least_min_side, squash
from tool_actors.encoders.stats_features import FEATURES
from tool_actors.learned import cards
from tool_actors.learned.nets import DetectorNet
from tool_actors.learned.train_detector import DETECTOR_NAME, stats_vectors
from tool_actors.learned.training import to_tensor
from tool_actors.registry import ENCODERS, Entry

LOGIT_SCALE = 2.0


def detector_input(image: np.ndarray, max_side: int) -> np.ndarray:
    """One uint8 image as a ``DetectorNet`` reads it: area-downscaled so that its longer side is at
    most ``max_side``, sides below the network's 16 pixels enlarged by pixel replication."""
    h, w = image.shape[:2]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
    return _at_least_min_side(image)


@torch.no_grad()
def forward_each(model: DetectorNet, batch: np.ndarray, device: str, max_side: int,
                 side: np.ndarray | None = None) -> np.ndarray:
    """A ``DetectorNet``'s raw outputs, float32 (N, outputs): one image per forward pass, each read as
    ``detector_input`` prepares it (so a batch equals its single calls); ``side``: (N, k) side inputs."""
    dev = torch.device(device)
    out = []
    for i, img in enumerate(batch):
        extra = None if side is None else torch.from_numpy(side[i:i + 1]).to(dev)
        out.append(model(to_tensor(detector_input(img, max_side)[None], dev), extra).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


class DetectEncoder(Encoder):
    """The detector's squashed logits, one per degradation (``DEGRADATIONS`` order)."""

    name = "detect"
    dim = len(DEGRADATIONS)
    max_side = 1024
    description = ("learned degradation detector (0.40 M-parameter CNN trained on synthetic mixtures of the 7 "
                   "degradations): one squashed logit per degradation")

    def __init__(self, weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> None:
        self.device = device
        self.weights_path = cards.weights_path(DETECTOR_NAME, weights_dir)
        model, card = cards.load(self.weights_path, "DetectorNet", device)
        if card.get("labels") != list(DEGRADATIONS):
            raise ValueError(f"{self.weights_path} detects {card.get('labels')}, expected {list(DEGRADATIONS)}; "
                             "retrain it with `restore-ray encoders train`")
        self.model: DetectorNet = model
        self.card = card

    def logits(self, batch: np.ndarray, stats: np.ndarray | None = None) -> np.ndarray:
        """Raw logits, float32 (N, 7); one image per forward pass (a batch equals its single calls).

        A detector that reads the ``stats`` vector gets it computed here from the images as given,
        unless the caller already has it (``stats``, (N, 78), as ``StatsEncoder.encode`` returns)."""
        if not self.model.config.side_inputs:
            return forward_each(self.model, batch, self.device, self.max_side)
        if stats is None:
            stats = stats_vectors(batch, self.model.config.side_inputs)
        return forward_each(self.model, batch, self.device, self.max_side, stats)

    def encode(self, batch: np.ndarray, stats: np.ndarray | None = None) -> np.ndarray:
        return squash(self.logits(batch, stats) / LOGIT_SCALE)


class StatsDetectEncoder(Encoder):
    """``stats`` (standardised, squashed statistics) ⊕ ``detect`` (squashed detector logits)."""

    name = "stats-detect"
    dim = StatsEncoder.dim + DetectEncoder.dim
    description = (f"the {len(FEATURES)} degradation statistics of `stats` plus the 7 logits of the learned "
                   "degradation detector `detect`; every value in [−5, 5]")

    def __init__(self, weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> None:
        self.device = device
        self.stats = StatsEncoder(device="cpu")
        self.detect = DetectEncoder(weights_dir, device)

    def encode(self, batch: np.ndarray) -> np.ndarray:
        stats = self.stats.encode(batch)
        return np.concatenate([stats, self.detect.encode(batch, stats)], axis=1)


def _check() -> str | None:
    return cards.missing_reason(DETECTOR_NAME)


_EXTRA = {"weights_shipped": f"{DETECTOR_NAME}.safetensors", "output_bound": SQUASH}
ENCODERS.register(Entry(
    name=DetectEncoder.name,
    factory=lambda weights_dir=None, device="cpu": DetectEncoder(weights_dir, device),
    description=DetectEncoder.description,
    backend="neural",
    embedded=True,
    check=_check,
    extra={"dim": DetectEncoder.dim, "labels": list(DEGRADATIONS), **_EXTRA},
))
ENCODERS.register(Entry(
    name=StatsDetectEncoder.name,
    factory=lambda weights_dir=None, device="cpu": StatsDetectEncoder(weights_dir, device),
    description=StatsDetectEncoder.description,
    backend="neural",
    embedded=True,
    check=_check,
    extra={"dim": StatsDetectEncoder.dim,
           "features": [name for name, _ in FEATURES] + [f"detect:{d}" for d in DEGRADATIONS], **_EXTRA},
))
