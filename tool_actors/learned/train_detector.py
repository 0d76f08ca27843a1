"""Training the degradation detector: which of the seven degradations does an image carry?

Samples come from ``data.detector_sample`` on patches of the training pictures: a random set of
0–5 distinct degradations in random order, parameters from the paper's ranges (the benchmark's own
generator), labelled by which were applied — labels the degradation code knows, no human involved.
With ``stats`` on (the default) the network's head also reads the ``stats`` encoder's degradation
statistics of each image, so the detector starts from what the hand-made measures see and learns
how mixtures change them. Loss: binary cross-entropy per degradation, AdamW with a cosine schedule. After training the
detector is measured on held-out synthetic samples of ``eval_patch`` pixels (own random stream):
per-degradation accuracy at logit 0 and the loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from restore_ray.names import DEGRADATIONS
from tool_actors.learned import cards
from tool_actors.learned.data import CleanPatches, detector_sample
from tool_actors.learned.nets import DetectorConfig, DetectorNet
from tool_actors.learned.training import (
    StepReport,
    batch_stream,
    card_footer,
    card_header,
    card_settings,
    optimise,
    plot_curves,
    seed_all,
    setup_device,
    to_tensor,
)

DETECTOR_NAME = "detect-small"


@dataclass
class DetectorTrainConfig:
    """Settings of ``restore-ray encoders train`` (recorded in the card)."""

    data: str = "builtin"  # 'builtin' (TRAIN photographs), 'builtin+photos' or a folder of clean images
    seed: int = 0
    steps: int = 4000
    batch_size: int = 12  # patches per step
    patch: int = 192  # training patch side
    lr: float = 1e-3  # peak learning rate (AdamW, cosine schedule)
    warmup: int = 100
    weight_decay: float = 1e-4
    device: str = "cpu"
    threads: int = 1
    eval_every: int = 250  # steps between held-out checks
    val_samples: int = 96  # samples in the periodic held-out check
    eval_samples: int = 400  # samples in the final measurement
    eval_patch: int = 256  # the benchmark's image size
    widths: tuple[int, ...] = DetectorConfig.widths
    stats: bool = True  # feed the head the ``stats`` encoder's statistics of each image
    workers: int = 0  # data-synthesis processes (0: in the training process; training.batch_stream)


@lru_cache(maxsize=1)
def _stats_encoder() -> Any:
    """One ``stats`` encoder for every call (it holds only its normalisation constants)."""
    from tool_actors.encoders.stats import StatsEncoder

    return StatsEncoder()


def side_inputs(model: DetectorNet, images: np.ndarray | list[np.ndarray], device: torch.device) -> torch.Tensor | None:
    """What the detector's head reads beside its own features: the ``stats`` encoder's vector of each
    uint8 image (N, 78) when the network was built with side inputs, else ``None``."""
    if not model.config.side_inputs:
        return None
    return torch.from_numpy(stats_vectors(images, model.config.side_inputs)).to(device)


def stats_vectors(images: np.ndarray | list[np.ndarray], expected: int) -> np.ndarray:
    """The ``stats`` encoder's vector of each uint8 image, float32 (N, 78), checked against the
    ``expected`` width the detector was built for."""
    stats = _stats_encoder()
    if expected != stats.dim:
        raise ValueError(f"this detector reads {expected} statistics but the stats encoder has "
                         f"{stats.dim}; retrain it with `restore-ray encoders train`")
    return np.concatenate([stats.encode(img[None]) for img in images])


def training_batch(patches: CleanPatches, size: int, side_inputs: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One step's data: ``size`` uint8 images, their labels and (with side inputs) their statistics."""
    samples = [detector_sample(patches.sample(rng), rng) for _ in range(size)]
    images = np.stack([s[0] for s in samples])
    return images, np.stack([s[1] for s in samples]), stats_vectors(images, side_inputs) if side_inputs else None


def make_samples(patches: CleanPatches, count: int, seed: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` (image, labels) samples from their own random stream: uint8 (N, H, W, 3), float32 (N, 7)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
    samples = [detector_sample(patches.sample(rng), rng) for _ in range(count)]
    return np.stack([s[0] for s in samples]), np.stack([s[1] for s in samples])


@torch.no_grad()
def logits(model: DetectorNet, images: np.ndarray, device: torch.device, chunk: int = 16) -> np.ndarray:
    """The detector's logits for uint8 (N, H, W, 3), float32 (N, outputs), in eval mode."""
    was_training = model.training
    model.eval()
    out = np.concatenate([model(to_tensor(images[i:i + chunk], device),
                                side_inputs(model, images[i:i + chunk], device)).cpu().numpy()
                          for i in range(0, len(images), chunk)])
    model.train(was_training)
    return out


def detector_metrics(z: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Binary cross-entropy, mean accuracy and per-degradation accuracy (``acc_NAME``) of logits ``z``."""
    t = torch.from_numpy(z)
    y = torch.from_numpy(labels)
    correct = (z > 0) == (labels > 0.5)
    out = {"bce": float(F.binary_cross_entropy_with_logits(t, y)), "accuracy": float(correct.mean())}
    out.update({f"acc_{name}": float(correct[:, j].mean()) for j, name in enumerate(DEGRADATIONS)})
    return out


def train_detector(cfg: DetectorTrainConfig, out_dir: str | Path, report: StepReport | None = None,
                   command: str | None = None) -> dict[str, Any]:
    """Train, measure and save ``out_dir/detect-small.safetensors`` + card + curve; return the card."""
    t0 = time.perf_counter()
    device = setup_device(cfg.device, cfg.threads)
    seed_all(cfg.seed)
    from tool_actors.encoders.stats import StatsEncoder

    net_cfg = DetectorConfig(outputs=len(DEGRADATIONS), widths=tuple(cfg.widths),
                             side_inputs=StatsEncoder.dim if cfg.stats else 0)
    for side, what in ((cfg.patch, "--patch"), (cfg.eval_patch, "eval_patch")):
        if side < net_cfg.min_side:
            raise ValueError(f"{what} ({side}) must be at least {net_cfg.min_side} pixels")
    patches = CleanPatches(cfg.data, cfg.patch)
    model = DetectorNet(net_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]))
    val_x, val_y = make_samples(patches, cfg.val_samples, cfg.seed, 1)

    history: dict[str, list[float]] = {"loss": []}
    evals: dict[str, list[tuple[int, float]]] = {"val_loss": [], "val_accuracy": []}

    def check(step: int) -> dict[str, float]:
        m = detector_metrics(logits(model, val_x, device), val_y)
        parts = {"val_loss": m["bce"], "val_accuracy": m["accuracy"]}
        for key, points in evals.items():
            points.append((step, parts[key]))
        return parts

    check(0)
    model.train()

    make = partial(training_batch, patches, cfg.batch_size, net_cfg.side_inputs)
    batches = batch_stream(make, cfg.steps, cfg.seed, rng, cfg.workers)

    def batch_loss() -> tuple[torch.Tensor, dict[str, float]]:
        images, labels, side = next(batches)
        z = model(to_tensor(images, device), None if side is None else torch.from_numpy(side).to(device))
        loss = F.binary_cross_entropy_with_logits(z, torch.from_numpy(labels).to(device))
        return loss, {"loss": loss.item()}

    optimise(model, opt, cfg, batch_loss, history, check, report)
    train_seconds = time.perf_counter() - t0

    eval_patches = CleanPatches(cfg.data, cfg.eval_patch)
    test_x, test_y = make_samples(eval_patches, cfg.eval_samples, cfg.seed, 3)
    measured = detector_metrics(logits(model, test_x, device), test_y)

    out_dir = Path(out_dir)
    curve = plot_curves(out_dir / f"{DETECTOR_NAME}.curve.png", f"{DETECTOR_NAME}: binary cross-entropy",
                        history, evals)
    card = {
        **card_header("detector", DETECTOR_NAME, train_seconds, device, cfg.threads),
        "labels": list(DEGRADATIONS),
        "data": patches.describe(),
        **card_settings(cfg),
        "measured": {"held_out": f"{cfg.eval_samples} synthetic samples of {cfg.eval_patch}-pixel patches of the "
                                 "training pictures (own random stream)", **measured},
        **card_footer(history, evals, curve, command, t0, loss_window=100),
    }
    _, card_path = cards.save(model, out_dir / f"{DETECTOR_NAME}.safetensors", card)
    return cards.read_card(card_path)
