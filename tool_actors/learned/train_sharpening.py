"""Training the over-sharpening detector: did unsharp masking make this picture worse?

A reward that reads sharpness pays for sharpening a motion-blurred picture, which lowers PSNR:
the sharpened trail looks crisper to the judges without being any closer to the scene. This
network (``sharpen-small``, a one-output ``DetectorNet``) gives the probability that an image is
a picture made worse by unsharp masking. Its samples are pairs from ``data.sharpening_pair`` on
patches of the training pictures: a picture (one blur, the clean patch or a random mixture of the
seven degradations) and the picture unsharp-masked at a random amount and σ, the sharpened one
labelled 1 where it lowered PSNR against the clean patch and 0 where it raised it, the picture
itself always 0 — labels the degradation code knows, no human involved. Loss: binary
cross-entropy plus, on the harmful pairs, a ranking term ``softplus(z_picture − z_sharpened)``
(the sharpened image must read as more over-sharpened than what it came from: a reward sees the
difference). The trunk starts from the shipped degradation detector's (``detect-small``), which
already reads blur; the head is new. AdamW with the shared cosine schedule.

After training it is measured on held-out pairs of ``eval_patch`` pixels (own random stream):
accuracy at probability 0.5, and the mean rise of the probability from picture to sharpened
image on the harmful and on the helpful pairs.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from tool_actors.learned import cards
from tool_actors.learned.data import CleanPatches, sharpening_pair
from tool_actors.learned.nets import DetectorConfig, DetectorNet
from tool_actors.learned.train_detector import DETECTOR_NAME, logits
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

SHARPENING_NAME = "sharpen-small"


@dataclass
class SharpeningTrainConfig:
    """Settings of ``restore-ray judge train-sharpening`` (recorded in the card)."""

    data: str = "builtin+photos"  # 'builtin' (TRAIN photographs), 'builtin+photos' or a folder of clean images
    seed: int = 0
    steps: int = 4000
    pairs: int = 6  # (picture, sharpened) pairs per step
    patch: int = 160  # training patch side
    lr: float = 5e-4  # peak learning rate (AdamW, cosine schedule)
    warmup: int = 100
    weight_decay: float = 1e-4
    rank_weight: float = 1.0  # weight of the ranking term on harmful pairs
    widths: tuple[int, ...] = DetectorConfig.widths  # the detector's, so that its trunk can be the start
    init_from_detector: bool = True  # start the trunk from the shipped detect-small's
    device: str = "cpu"
    threads: int = 1
    eval_every: int = 250
    val_pairs: int = 48
    eval_pairs: int = 200
    eval_patch: int = 256
    workers: int = 0  # data-synthesis processes (training.batch_stream)


def pair_batch(patches: CleanPatches, pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``pairs`` pairs as uint8 (2·pairs, H, W, 3), picture then sharpened, and float32 labels (2·pairs,)."""
    images, labels = [], []
    for _ in range(pairs):
        picture, sharpened, harmful = sharpening_pair(patches.sample(rng), rng)
        images += [picture, sharpened]
        labels += [0.0, float(harmful)]
    return np.stack(images), np.array(labels, dtype=np.float32)


def pair_loss(z: torch.Tensor, labels: torch.Tensor, rank_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Binary cross-entropy over every image plus ``rank_weight`` × the mean of
    ``softplus(z_picture − z_sharpened)`` over the harmful pairs (pairs interleaved as in ``pair_batch``)."""
    bce = F.binary_cross_entropy_with_logits(z, labels)
    harmful = labels[1::2] > 0.5
    rank = F.softplus(z[0::2] - z[1::2])[harmful].mean() if bool(harmful.any()) else z.new_zeros(())
    loss = bce + rank_weight * rank
    return loss, {"loss": loss.item(), "bce": bce.item(), "rank": rank.item()}


def sharpening_metrics(z: np.ndarray, labels: np.ndarray, rank_weight: float = 1.0) -> dict[str, float]:
    """Loss parts (``pair_loss`` with ``rank_weight``), accuracy at logit 0 and the mean probability rise
    (sharpened − picture) on the harmful and on the helpful pairs."""
    _, parts = pair_loss(torch.from_numpy(z), torch.from_numpy(labels), rank_weight)
    p = 1.0 / (1.0 + np.exp(-z))
    rise = p[1::2] - p[0::2]
    harmful = labels[1::2] > 0.5
    out = {**parts, "accuracy": float(((z > 0) == (labels > 0.5)).mean()), "harmful_share": float(harmful.mean())}
    out["rise_harmful"] = float(rise[harmful].mean()) if harmful.any() else float("nan")
    out["rise_helpful"] = float(rise[~harmful].mean()) if (~harmful).any() else float("nan")
    return out


def initial_trunk(model: DetectorNet, device: str) -> dict[str, str]:
    """Copy the shipped detector's trunk (stem and stages) into ``model``; return the weights file's name and
    SHA-256 (what the card records: the file, not where it lay on the training machine)."""
    path = cards.weights_path(DETECTOR_NAME)
    source, _ = cards.load(path, "DetectorNet", device)
    if tuple(source.config.widths) != tuple(model.config.widths) or source.config.stem != model.config.stem:
        raise ValueError(f"{path} has widths {source.config.widths}; the sharpening network needs the same trunk "
                         f"({model.config.widths}); pass --no-init-from-detector to train from scratch")
    model.stem.load_state_dict(source.stem.state_dict())
    model.stages.load_state_dict(source.stages.state_dict())
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def train_sharpening(cfg: SharpeningTrainConfig, out_dir: str | Path, report: StepReport | None = None,
                     command: str | None = None) -> dict[str, Any]:
    """Train, measure and save ``out_dir/sharpen-small.safetensors`` + card + curve; return the card."""
    t0 = time.perf_counter()
    device = setup_device(cfg.device, cfg.threads)
    seed_all(cfg.seed)
    net_cfg = DetectorConfig(outputs=1, widths=tuple(cfg.widths))
    for side, what in ((cfg.patch, "--patch"), (cfg.eval_patch, "eval_patch")):
        if side < net_cfg.min_side:
            raise ValueError(f"{what} ({side}) must be at least {net_cfg.min_side} pixels")
    if cfg.pairs < 1:
        raise ValueError(f"--pairs must be at least 1, got {cfg.pairs}")
    patches = CleanPatches(cfg.data, cfg.patch)
    model = DetectorNet(net_cfg)
    trunk = initial_trunk(model, "cpu") if cfg.init_from_detector else None
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]))
    val_x, val_y = pair_batch(patches, cfg.val_pairs, np.random.default_rng(np.random.SeedSequence([cfg.seed, 1])))

    history: dict[str, list[float]] = {"loss": []}
    evals: dict[str, list[tuple[int, float]]] = {"val_loss": [], "val_accuracy": []}

    def check(step: int) -> dict[str, float]:
        m = sharpening_metrics(logits(model, val_x, device)[:, 0], val_y, cfg.rank_weight)
        parts = {"val_loss": m["loss"], "val_accuracy": m["accuracy"]}
        for key, points in evals.items():
            points.append((step, parts[key]))
        return parts

    check(0)
    model.train()
    batches = batch_stream(partial(pair_batch, patches, cfg.pairs), cfg.steps, cfg.seed, rng, cfg.workers)

    def batch_loss() -> tuple[torch.Tensor, dict[str, float]]:
        images, labels = next(batches)
        z = model(to_tensor(images, device))[:, 0]
        loss, parts = pair_loss(z, torch.from_numpy(labels).to(device), cfg.rank_weight)
        return loss, {"loss": parts["loss"]}

    optimise(model, opt, cfg, batch_loss, history, check, report)
    train_seconds = time.perf_counter() - t0

    eval_patches = CleanPatches(cfg.data, cfg.eval_patch)
    test_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 3]))
    test_x, test_y = pair_batch(eval_patches, cfg.eval_pairs, test_rng)
    measured = sharpening_metrics(logits(model, test_x, device)[:, 0], test_y, cfg.rank_weight)

    out_dir = Path(out_dir)
    curve = plot_curves(out_dir / f"{SHARPENING_NAME}.curve.png",
                        f"{SHARPENING_NAME}: cross-entropy + ranking", history, evals)
    card = {
        **card_header("sharpening", SHARPENING_NAME, train_seconds, device, cfg.threads),
        "labels": ["harmful_sharpening"],
        "trunk_from": trunk,
        "data": patches.describe(),
        **card_settings(cfg),
        "measured": {"held_out": f"{cfg.eval_pairs} synthetic (picture, sharpened) pairs of {cfg.eval_patch}-pixel "
                                 "patches of the training pictures (own random stream)", **measured},
        **card_footer(history, evals, curve, command, t0, loss_window=100),
    }
    _, card_path = cards.save(model, out_dir / f"{SHARPENING_NAME}.safetensors", card)
    return cards.read_card(card_path)
