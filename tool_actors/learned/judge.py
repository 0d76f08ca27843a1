"""The learned no-reference quality judges, registered in ``SCORERS``: ``judge-small``, the embedded
default reward, and ``judge-pair``, the mean of two smaller judges ``judge-rank`` and ``judge-detail``.

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


SCORERS_DESCRIPTION = ("learned no-reference judge (0.76 M-parameter CNN) trained without human labels by ranking "
                       "synthetic degradations, mixtures and tool artifacts; calibrated to 1–5 (higher is better)")
PAIR = "judge-pair"
PAIR_MEMBERS = ("judge-rank", "judge-detail")
JUDGES = (NAME, PAIR)  # the registered learned judges, the default reward first
PAIR_DESCRIPTION = ("mean of two small learned judges (0.2 M parameters each, 1–5): judge-rank (ranking weighted "
                    "towards clean-above-degraded and fewer-above-more) and judge-detail (also reads sharpness and "
                    "8×8 blockiness statistics)")


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
