"""The learned no-reference quality judges, registered in ``SCORERS``: ``judge-small``, the embedded
default reward, ``judge-pair``, the mean of two smaller judges ``judge-rank`` and ``judge-detail``,
``judge-trio``, the pair with a penalty from the degradation detector (``GuardedJudge``), and
``judge-quartet``, the trio with a second penalty from the over-sharpening detector ``sharpen-small``
(``SharpeningDetector``), which stops it paying for sharpening that lowers PSNR.

Each member of the pair is a small ``JudgeNet`` trained by ``restore-ray judge train --name MEMBER``
with its own recipe (the commands are in each card and in ``docs/learned.md``): ``judge-rank``
weights the structural pairs (clean above every version, lighter and fewer degradations above more)
three times, ``judge-detail`` also feeds its head sharpness and 8×8-blockiness statistics and learns
that unsharp masking which lowers PSNR is no repair. Their errors differ — the first ranks tool
outputs best but misses light blur and JPEG, the second sees those but pays for sharpening — and
their mean keeps most of both (on the test tool applications ρ(Δscore, ΔPSNR) +0.600 against +0.615
and +0.559, clean above degraded 98 % against 73 % and 98 %; ``judge-small`` +0.496 and 92 %), and
greedy search with it restores better. Policies trained with PPO on it were not consistently
better than on ``judge-small`` (``docs/learned.md``), so ``judge-small`` stays the default reward.

``judge-small``, the first shipped judge, is described below; every judge reads images the same way.

A ``JudgeNet`` (0.76 M parameters) trained by ``restore-ray judge train`` to rank synthetic
distortions of the builtin TRAIN photographs — degradations, their mixtures, the outputs of the
project's registered embedded tools on them, and the artifacts restoration tools add (halos,
clipping, waxy smoothing, casts, ringing, residual streaks, unsharp masking) — with a
full-reference quality level as the only ordering signal between different kinds; no human
label. Measured quality and known limits: ``docs/learned.md``. The raw output goes through the monotone calibration stored in the card, so scores read
on the 1–5 scale of DeQA-Score's levels (bad 1 … excellent 5); higher is better.

Images are scored at their own resolution (the network is fully convolutional and pools over
space); sides below 16 pixels are reflect-padded to 16, and images whose longer side exceeds
``max_side`` (1024) are area-downscaled to it first, which bounds time and memory.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from tool_actors.base import Scorer
from tool_actors.learned import cards
from tool_actors.learned.calibration import SCORE_RANGE, Logistic4
from tool_actors.learned.nets import JudgeNet
from tool_actors.learned.train_detector import DETECTOR_NAME
from tool_actors.learned.train_sharpening import SHARPENING_NAME
from tool_actors.learned.training import to_tensor
from tool_actors.registry import SCORERS, Entry

NAME = "judge-small"


class LearnedJudge(Scorer):
    """The learned NR judge: ``uint8 (N, H, W, 3)`` → calibrated scores in (1, 5), float32 (N,)."""

    higher_is_better = True
    score_range = SCORE_RANGE
    max_side = 1024
    chunk = 1  # images per forward pass (one at a time: a batch scores exactly as single calls)

    def __init__(self, name: str = NAME, weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> None:
        self.name = name
        self.device = device
        self.weights_path = cards.weights_path(name, weights_dir)
        model, card = cards.load(self.weights_path, "JudgeNet", device)
        self.model: JudgeNet = model
        self.card = card
        self.calibration = Logistic4.from_dict(card["calibration"])
        self.description = SCORERS_DESCRIPTION if name == NAME else f"learned no-reference judge {name} (1–5)"

    def _prepare(self, batch: np.ndarray) -> np.ndarray:
        h, w = batch.shape[1:3]
        if max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            batch = np.stack([cv2.resize(im, size, interpolation=cv2.INTER_AREA) for im in batch])
        side = self.model.config.min_side
        h, w = batch.shape[1:3]
        if h < side or w < side:
            pad = ((0, 0), (0, max(0, side - h)), (0, max(0, side - w)), (0, 0))
            batch = np.pad(batch, pad, mode="reflect" if min(h, w) > 1 else "edge")
        return batch

    @torch.no_grad()
    def raw(self, batch: np.ndarray) -> np.ndarray:
        """The network's uncalibrated output, float64 (N,)."""
        batch = self._prepare(batch)
        dev = torch.device(self.device)
        outs = [self.model(to_tensor(batch[i:i + self.chunk], dev)).cpu().numpy()
                for i in range(0, len(batch), self.chunk)]
        return np.concatenate(outs).astype(np.float64)

    def score(self, batch: np.ndarray) -> np.ndarray:
        return self.calibration(self.raw(batch))


class JudgeEnsemble(Scorer):
    """The mean of several learned judges' calibrated scores: ``uint8 (N, H, W, 3)`` → (1, 5), float32 (N,).

    Each member is a ``JudgeNet`` trained by ``restore-ray judge train --name MEMBER`` with its own
    recipe, so their errors differ; every member's calibration maps to the same 1–5 levels, and so
    does their mean."""

    higher_is_better = True
    score_range = SCORE_RANGE

    def __init__(self, name: str, members: tuple[str, ...], weights_dir: str | os.PathLike | None = None,
                 device: str = "cpu") -> None:
        if not members:
            raise ValueError(f"judge ensemble {name!r} needs at least one member")
        self.name = name
        self.device = device
        self.members = [LearnedJudge(m, weights_dir, device) for m in members]
        self.description = PAIR_DESCRIPTION

    def score(self, batch: np.ndarray) -> np.ndarray:
        return np.mean([m.score(batch) for m in self.members], axis=0)


TRIO = "judge-trio"
GUARD_LABELS = ("dark", "noise", "jpeg", "haze", "rain")  # the detector's labels that judge-trio penalises
GUARD_WEIGHT = 0.4  # chosen on tool applications to the builtin TRAINING photographs (docs/learned.md)
QUARTET = "judge-quartet"
SHARPENING_WEIGHT = 0.4  # judge-quartet's weight on sharpen-small's probability, chosen as GUARD_WEIGHT was


class SharpeningDetector:
    """``sharpen-small``: the probability that unsharp masking made an image worse, float64 (N,).

    A one-output ``DetectorNet`` trained by ``restore-ray judge train-sharpening`` on pairs the
    degradation code labels (``train_sharpening``); it reads images as the degradation detector
    does (``detect.forward_each``), one image per forward pass."""

    max_side = 1024

    def __init__(self, weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> None:
        self.device = device
        self.weights_path = cards.weights_path(SHARPENING_NAME, weights_dir)
        model, card = cards.load(self.weights_path, "DetectorNet", device)
        if model.config.outputs != 1 or model.config.side_inputs:
            raise ValueError(f"{self.weights_path} is not an over-sharpening detector (one output, no side inputs); "
                             "retrain it with `restore-ray judge train-sharpening`")
        self.model = model
        self.card = card

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        from tool_actors.encoders.detect import forward_each

        logits = forward_each(self.model, batch, self.device, self.max_side)[:, 0].astype(np.float64)
        return 1.0 / (1.0 + np.exp(-logits))


class GuardedJudge(Scorer):
    """``judge-pair``'s score minus ``weight`` × the sum of the degradation detector's probabilities of the
    ``labels`` (darkness, noise, JPEG, haze, rain): ``uint8 (N, H, W, 3)`` → float32 (N,) in
    (1 − weight·len(labels), 5).

    The detector (``detect-small``, the ``detect`` encoder's network) was trained on every mixture of
    the seven degradations, so it notices a degradation the two judges let pass (a light JPEG or
    noise), and its probability falls when a tool removes it. Its two blur probabilities are left
    out: sharpening lowers them whether or not it helped (unsharp masking lowers the motion-blur
    probability on every motion-blurred test image, where PSNR falls), so a penalty on them would
    pay for sharpening. An image the detector finds free of the five scores what the pair gives it.

    With ``sharpening_weight`` > 0 (``judge-quartet``) it also subtracts that weight × the
    over-sharpening detector's probability (``SharpeningDetector``), which rises when unsharp
    masking lowers PSNR (a motion-blurred picture) and stays where it was when sharpening helps
    (a defocused one)."""

    higher_is_better = True

    def __init__(self, name: str = TRIO, weights_dir: str | os.PathLike | None = None, device: str = "cpu",
                 weight: float = GUARD_WEIGHT, labels: tuple[str, ...] = GUARD_LABELS,
                 sharpening_weight: float = 0.0) -> None:
        from restore_ray.names import DEGRADATIONS
        from tool_actors.encoders.detect import DetectEncoder

        unknown = [label for label in labels if label not in DEGRADATIONS]
        if unknown or not labels:
            raise ValueError(f"guard labels must be some of {', '.join(DEGRADATIONS)}; got {list(labels)}")
        if not weight > 0:
            raise ValueError(f"guard weight must be positive, got {weight}")
        if not sharpening_weight >= 0:
            raise ValueError(f"sharpening weight must be zero or positive, got {sharpening_weight}")
        self.name = name
        self.device = device
        self.pair = JudgeEnsemble(PAIR, PAIR_MEMBERS, weights_dir, device)
        self.detector = DetectEncoder(weights_dir, device)
        self.weight = float(weight)
        self.labels = tuple(labels)
        self.columns = [DEGRADATIONS.index(label) for label in labels]
        self.sharpening_weight = float(sharpening_weight)
        self.sharpening = SharpeningDetector(weights_dir, device) if self.sharpening_weight else None
        self.score_range = trio_range(self.weight, self.labels, self.sharpening_weight)
        self.description = trio_description(self.weight, self.labels, self.sharpening_weight)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """The detector's probabilities of the guard labels, float64 (N, len(labels))."""
        logits = self.detector.logits(batch)[:, self.columns].astype(np.float64)
        return 1.0 / (1.0 + np.exp(-logits))

    def score(self, batch: np.ndarray) -> np.ndarray:
        score = self.pair.score(batch) - self.weight * self.probabilities(batch).sum(axis=1)
        if self.sharpening is not None:
            score = score - self.sharpening_weight * self.sharpening.probabilities(batch)
        return score


SCORERS_DESCRIPTION = ("learned no-reference judge (0.76 M-parameter CNN) trained without human labels by ranking "
                       "synthetic degradations, mixtures and tool artifacts; calibrated to 1–5 (higher is better)")
PAIR = "judge-pair"
PAIR_MEMBERS = ("judge-rank", "judge-detail")
JUDGES = (NAME, PAIR, TRIO, QUARTET)  # the registered learned judges, the default reward first
PAIR_DESCRIPTION = ("mean of two small learned judges (0.2 M parameters each, 1–5): judge-rank (ranking weighted "
                    "towards clean-above-degraded and fewer-above-more) and judge-detail (also reads sharpness and "
                    "8×8 blockiness statistics)")


def trio_range(weight: float, labels: tuple[str, ...], sharpening_weight: float = 0.0) -> tuple[float, float]:
    """``GuardedJudge``'s score range: the pair's 1–5 lowered by the largest penalty, ``weight`` per label
    and ``sharpening_weight`` for over-sharpening."""
    return (SCORE_RANGE[0] - weight * len(labels) - sharpening_weight, SCORE_RANGE[1])


def trio_description(weight: float, labels: tuple[str, ...], sharpening_weight: float = 0.0) -> str:
    """What ``GuardedJudge`` computes, for listings."""
    low, high = trio_range(weight, labels, sharpening_weight)
    sharpening = (f" and {sharpening_weight:g} × the over-sharpening detector's probability"
                  if sharpening_weight else "")
    return (f"judge-pair minus {weight:g} × the learned degradation detector's probabilities of {', '.join(labels)}"
            f"{sharpening} ({low:g} to {high:g}, higher is better)")


def _missing(*names: str) -> str | None:
    reasons = [r for r in (cards.missing_reason(n) for n in names) if r]
    return "; ".join(reasons) or None


_EXTRA = {"higher_is_better": True, "score_range": SCORE_RANGE, "max_side": LearnedJudge.max_side}
SCORERS.register(Entry(
    name=NAME,
    factory=lambda weights_dir=None, device="cpu": LearnedJudge(NAME, weights_dir, device),
    description=SCORERS_DESCRIPTION,
    category="NR",
    backend="neural",
    embedded=True,
    check=lambda: _missing(NAME),
    extra={**_EXTRA, "weights_shipped": f"{NAME}.safetensors"},
))
SCORERS.register(Entry(
    name=PAIR,
    factory=lambda weights_dir=None, device="cpu": JudgeEnsemble(PAIR, PAIR_MEMBERS, weights_dir, device),
    description=PAIR_DESCRIPTION,
    category="NR",
    backend="neural",
    embedded=True,
    check=lambda: _missing(*PAIR_MEMBERS),
    extra={**_EXTRA, "weights_shipped": ", ".join(f"{m}.safetensors" for m in PAIR_MEMBERS),
           "members": list(PAIR_MEMBERS)},
))
SCORERS.register(Entry(
    name=TRIO,
    factory=lambda weights_dir=None, device="cpu": GuardedJudge(TRIO, weights_dir, device),
    description=trio_description(GUARD_WEIGHT, GUARD_LABELS),
    category="NR",
    backend="neural",
    embedded=True,
    check=lambda: _missing(*PAIR_MEMBERS, DETECTOR_NAME),
    extra={**_EXTRA, "score_range": trio_range(GUARD_WEIGHT, GUARD_LABELS),
           "weights_shipped": ", ".join(f"{m}.safetensors" for m in (*PAIR_MEMBERS, DETECTOR_NAME)),
           "members": list(PAIR_MEMBERS), "detector": DETECTOR_NAME, "guard_labels": list(GUARD_LABELS),
           "guard_weight": GUARD_WEIGHT},
))
SCORERS.register(Entry(
    name=QUARTET,
    factory=lambda weights_dir=None, device="cpu": GuardedJudge(QUARTET, weights_dir, device,
                                                                 sharpening_weight=SHARPENING_WEIGHT),
    description=trio_description(GUARD_WEIGHT, GUARD_LABELS, SHARPENING_WEIGHT),
    category="NR",
    backend="neural",
    embedded=True,
    check=lambda: _missing(*PAIR_MEMBERS, DETECTOR_NAME, SHARPENING_NAME),
    extra={**_EXTRA, "score_range": trio_range(GUARD_WEIGHT, GUARD_LABELS, SHARPENING_WEIGHT),
           "weights_shipped": ", ".join(f"{m}.safetensors" for m in (*PAIR_MEMBERS, DETECTOR_NAME, SHARPENING_NAME)),
           "members": list(PAIR_MEMBERS), "detector": DETECTOR_NAME, "guard_labels": list(GUARD_LABELS),
           "guard_weight": GUARD_WEIGHT, "sharpening_detector": SHARPENING_NAME,
           "sharpening_weight": SHARPENING_WEIGHT},
))
