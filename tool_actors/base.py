"""The three small interfaces everything else is built from: Tool, Scorer, Encoder.

All of them take a batch of images as a ``uint8`` array of shape ``(N, H, W, 3)`` (RGB) and know
nothing of Ray, files or HTTP. The same objects run in-process, inside Ray actors, in Serve
replicas and in Ray Data ``map_batches``.

* ``Tool.__call__(batch) -> batch`` of the same shape and dtype; deterministic, so outputs can
  be cached by content hash.
* ``Scorer.__call__(batch) -> float32[N]``; ``higher_is_better`` and ``score_range`` say how to
  read it, and ``normalised_score`` turns any scorer's output into the one higher-is-better value
  that rewards use.
* ``Encoder.__call__(batch) -> float32[N, dim]``.

Errors name the component: a wrong dtype, shape or channel count raises ``InputError``; an
exception raised inside a tool, scorer or encoder surfaces as ``ComponentError`` naming it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar, Literal

import numpy as np

Backend = Literal["classical", "neural"]


class InputError(ValueError):
    """The batch handed to a component has the wrong type, dtype, shape or channel count."""


class ComponentError(RuntimeError):
    """A tool, scorer or encoder failed on valid input; the message names it."""


class UnavailableError(RuntimeError):
    """A component cannot be built here (missing weights file, missing package, …); says what to do."""


def check_batch(batch: object, owner: str, min_side: int = 1) -> np.ndarray:
    """Validate a ``uint8 (N, H, W, 3)`` batch; raise ``InputError`` naming ``owner`` otherwise."""
    if not isinstance(batch, np.ndarray):
        raise InputError(f"{owner}: expected a numpy uint8 array of shape (N, H, W, 3), got {type(batch).__name__}")
    if batch.dtype != np.uint8:
        raise InputError(f"{owner}: expected dtype uint8, got {batch.dtype} (convert with np.clip(x, 0, 255).astype(np.uint8))")
    if batch.ndim != 4:
        hint = " (add a batch axis: image[None])" if batch.ndim == 3 else ""
        raise InputError(f"{owner}: expected shape (N, H, W, 3), got {batch.shape}{hint}")
    if batch.shape[3] != 3:
        raise InputError(f"{owner}: expected 3 RGB channels, got {batch.shape[3]} (shape {batch.shape})")
    if batch.shape[0] == 0:
        raise InputError(f"{owner}: the batch is empty")
    if min(batch.shape[1:3]) < min_side:
        raise InputError(f"{owner}: images must be at least {min_side}×{min_side} pixels, got {batch.shape[1]}×{batch.shape[2]}")
    return batch


class Tool(ABC):
    """A restoration operator: ``uint8 (N, H, W, 3)`` in, the same shape out.

    Subclasses set the class attributes (or pass them to ``__init__``) and implement ``process``.
    ``__call__`` validates input and output, and wraps any failure in ``ComponentError``.
    """

    name: str = ""
    category: str = ""
    backend: Backend = "classical"
    description: str = ""
    min_side: ClassVar[int] = 1
    device: str = "cpu"

    @abstractmethod
    def process(self, batch: np.ndarray) -> np.ndarray:
        """Restore a validated batch; return uint8 of the same shape."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        check_batch(batch, f"tool {self.name!r}", self.min_side)
        try:
            out = self.process(batch)
        except (InputError, ComponentError):
            raise
        except Exception as err:  # noqa: BLE001 - re-raised with the tool's name
            raise ComponentError(f"tool {self.name!r} failed: {type(err).__name__}: {err}") from err
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != batch.shape:
            got = f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}"
            raise ComponentError(f"tool {self.name!r} returned {got}, expected uint8 {batch.shape}")
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} ({self.category}, {self.backend}, {self.device})>"


class Scorer(ABC):
    """A no-reference image-quality score: ``uint8 (N, H, W, 3)`` → ``float32[N]``."""

    name: str = ""
    higher_is_better: bool = True
    score_range: tuple[float, float] = (0.0, 1.0)
    description: str = ""
    device: str = "cpu"

    @abstractmethod
    def score(self, batch: np.ndarray) -> np.ndarray:
        """Score a validated batch; return float32 of shape (N,)."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        check_batch(batch, f"scorer {self.name!r}")
        try:
            out = np.asarray(self.score(batch), dtype=np.float32)
        except (InputError, ComponentError):
            raise
        except Exception as err:  # noqa: BLE001
            raise ComponentError(f"scorer {self.name!r} failed: {type(err).__name__}: {err}") from err
        if out.shape != (batch.shape[0],):
            raise ComponentError(f"scorer {self.name!r} returned shape {out.shape}, expected ({batch.shape[0]},)")
        if not np.all(np.isfinite(out)):
            raise ComponentError(f"scorer {self.name!r} returned a non-finite score: {out.tolist()}")
        return out

    def normalised(self, scores: np.ndarray) -> np.ndarray:
        """Scores mapped to the reward scale: see ``normalised_score``."""
        return normalised_score(np.asarray(scores, dtype=np.float32), self.score_range, self.higher_is_better)


def normalised_score(scores: np.ndarray, score_range: tuple[float, float], higher_is_better: bool) -> np.ndarray:
    """The one reward scale: (s − lo)/(hi − lo), flipped when lower is better; 1 = best of the range.

    Values outside ``score_range`` are not clipped (a finite, documented range is a calibration,
    not a hard bound), so reward differences stay proportional to raw score differences.
    """
    lo, hi = float(score_range[0]), float(score_range[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"score_range must be finite with hi > lo, got {score_range}")
    x = (np.asarray(scores, dtype=np.float32) - lo) / (hi - lo)
    return (x if higher_is_better else 1.0 - x).astype(np.float32)


class Encoder(ABC):
    """A frozen image encoder: ``uint8 (N, H, W, 3)`` → ``float32[N, dim]``."""

    name: str = ""
    dim: int = 0
    description: str = ""
    device: str = "cpu"

    @abstractmethod
    def encode(self, batch: np.ndarray) -> np.ndarray:
        """Embed a validated batch; return float32 of shape (N, dim)."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        check_batch(batch, f"encoder {self.name!r}")
        try:
            out = np.asarray(self.encode(batch), dtype=np.float32)
        except (InputError, ComponentError):
            raise
        except Exception as err:  # noqa: BLE001
            raise ComponentError(f"encoder {self.name!r} failed: {type(err).__name__}: {err}") from err
        if out.shape != (batch.shape[0], self.dim):
            raise ComponentError(f"encoder {self.name!r} returned shape {out.shape}, expected ({batch.shape[0]}, {self.dim})")
        return out
