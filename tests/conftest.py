"""Shared fixtures. ``agent_*``: a toy toolbox whose right answer is known, for the agent's tests.

The toy world: training images are dark (mean ≈ 64); the scorer rewards a mean brightness near
128; ``toy-brighten`` doubles intensities, ``toy-darken`` halves them, ``toy-blur`` smooths. The
best plan is ``toy-brighten`` once, then STOP: anything else scores worse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from restore_ray.imageio import write_image
from restore_ray.manifest import Record, write_manifest
from tool_actors.base import Encoder, Scorer, Tool
from tool_actors.registry import Entry, Registry


class ToyScale(Tool):
    """Multiply intensities by a factor."""

    backend = "classical"

    def __init__(self, name: str, factor: float, category: str) -> None:
        self.name, self.factor, self.category = name, factor, category

    def process(self, batch: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(batch.astype(np.float32) * self.factor), 0, 255).astype(np.uint8)


class ToyBlur(Tool):
    """3×3 box blur (edges replicated)."""

    name, category, backend = "toy-blur", "denoise", "classical"

    def process(self, batch: np.ndarray) -> np.ndarray:
        x = np.pad(batch.astype(np.float32), ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        h, w = batch.shape[1:3]
        acc = sum(x[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0
        return np.clip(np.rint(acc), 0, 255).astype(np.uint8)


class ToyBrightnessScorer(Scorer):
    """1 at mean brightness 128, falling linearly to 0 at 0 or 255."""

    name, higher_is_better, score_range = "toy-brightness", True, (0.0, 1.0)

    def score(self, batch: np.ndarray) -> np.ndarray:
        mean = batch.reshape(len(batch), -1).mean(axis=1) / 255.0
        return (1.0 - np.abs(mean - 0.5) * 2.0).astype(np.float32)


class ToyFlakyScorer(ToyBrightnessScorer):
    """Like the brightness scorer, but fails on images whose top-left pixel is exactly (7, 7, 7)."""

    name = "toy-flaky"

    def score(self, batch: np.ndarray) -> np.ndarray:
        if np.any(np.all(batch[:, 0, 0] == 7, axis=-1)):
            raise RuntimeError("this image upsets the scorer")
        return super().score(batch)


class ToyStatsEncoder(Encoder):
    """Mean and standard deviation of the pixels, scaled to [0, 1]."""

    name, dim = "toy-stats", 2

    def encode(self, batch: np.ndarray) -> np.ndarray:
        flat = batch.reshape(len(batch), -1).astype(np.float32) / 255.0
        return np.stack([flat.mean(axis=1), flat.std(axis=1)], axis=1)


def _entry(name: str, make, category: str | None = None) -> Entry:
    return Entry(name, lambda weights_dir=None, device="cpu": make(), category=category, embedded=True)


def toy_registries() -> tuple[Registry, Registry, Registry]:
    tools: Registry = Registry("tool")
    tools.register(_entry("toy-brighten", lambda: ToyScale("toy-brighten", 2.0, "brighten"), "brighten"))
    tools.register(_entry("toy-darken", lambda: ToyScale("toy-darken", 0.5, "brighten"), "brighten"))
    tools.register(_entry("toy-blur", ToyBlur, "denoise"))
    scorers: Registry = Registry("scorer")
    scorers.register(_entry("toy-brightness", ToyBrightnessScorer, "NR"))
    scorers.register(_entry("toy-flaky", ToyFlakyScorer, "NR"))
    encoders: Registry = Registry("encoder")
    encoders.register(_entry("toy-stats", ToyStatsEncoder))
    return tools, scorers, encoders


@pytest.fixture(scope="session")
def agent_toy_registries() -> tuple[Registry, Registry, Registry]:
    """Fresh registries holding only the toy components (the global ones stay untouched)."""
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import conftest
    return toy_registries()


def write_toy_dataset(root: Path, n_train: int = 12, n_test: int = 4, size: int = 12, flaky: int = 0) -> Path:
    """Dark training/test images (and their clean versions); ``flaky`` train images carry the scorer's trap."""
    rng = np.random.default_rng(0)
    records = []
    for i in range(n_train + n_test):
        split = "train" if i < n_train else "test"
        clean = rng.integers(100, 156, (size, size, 3), dtype=np.uint8)
        dark = (clean // 2).astype(np.uint8)
        if i < flaky:
            dark[0, 0] = 7
        write_image(root / f"gt/{i:03d}.png", clean)
        write_image(root / f"lq/{i:03d}.png", dark)
        records.append(Record(f"toy_{i:03d}", "I", ("dark",), f"lq/{i:03d}.png", f"gt/{i:03d}.png", split))
    return write_manifest(root / "manifest.jsonl", records)


@pytest.fixture()
def agent_toy_dataset(tmp_path) -> Path:
    """A manifest of dark toy images: 12 train, 4 test."""
    return write_toy_dataset(tmp_path / "toy")


@pytest.fixture()
def agent_write_toy_dataset():
    """The toy dataset writer, for tests that need other sizes or trapped images."""
    return write_toy_dataset


# --------------------------------------------------------------------- scorers and encoders (scoring_*)
@pytest.fixture(scope="session")
def scoring_crops() -> dict[str, np.ndarray]:
    """Clean builtin test crops (192²) and a degraded copy of each (one degradation per crop)."""
    from restore_ray.datasets import builtin_crops
    from restore_ray.degradations import degrade

    clean = np.stack(builtin_crops("test", 6, 192, seed=3))
    names = ["noise", "jpeg", "defocus_blur", "motion_blur", "noise", "jpeg"]
    rng = np.random.default_rng(0)
    degraded = np.stack([degrade(img, [name], rng)[0] for img, name in zip(clean, names)])
    return {"clean": clean, "degraded": degraded}


@pytest.fixture()
def scoring_no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)



@pytest.fixture()
def one_torch_thread():
    """torch on one thread for the test, the previous count restored after it (the CPU is shared)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
