"""Training a small restoration expert on synthetic pairs (degraded input, clean target).

Pairs come from ``data.expert_pair`` on patches of the training pictures: the project's own JPEG
round-trip for ``dejpeg``; disk, Gaussian and softened-disk kernels (wider than the generator's
radii) for ``deblur_defocus``; the generator's Gaussian-weighted motion trails at any angle and
length 3–15 for ``deblur_motion``. A third of the targets carry another degradation first (noise,
darkness, haze, …), which the expert must keep: it removes its own degradation only, as a tool in
a chain must.

Loss: Charbonnier (a smooth L1), √((y − x)² + ε²), AdamW with a cosine schedule. After training
the expert is measured on held-out synthetic pairs (own random stream, ``eval_patch`` pixels):
mean PSNR of input and output against the target, and the share of pairs it improved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tool_actors.learned import cards
from tool_actors.learned.data import EXPERT_CATEGORIES, CleanPatches, expert_pair
from tool_actors.learned.distortions import psnr
from tool_actors.learned.nets import ExpertConfig, ExpertNet
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
    to_uint8,
)

EXPERT_NAMES: dict[str, str] = {"dejpeg": "dejpeg-small", "deblur_defocus": "deblur-defocus-small",
                                "deblur_motion": "deblur-motion-small"}


@dataclass
class ExpertTrainConfig:
    """Settings of ``restore-ray tools train CATEGORY`` (recorded in the card)."""

    category: str = "dejpeg"
    data: str = "builtin"  # 'builtin' (TRAIN photographs), 'builtin+photos' or a folder of clean images
    seed: int = 0
    steps: int = 6000
    batch_size: int = 16  # patches per step
    patch: int = 96  # training patch side (a multiple of 16 keeps JPEG blocks aligned)
    lr: float = 1e-3  # peak learning rate (AdamW, cosine schedule)
    warmup: int = 200
    weight_decay: float = 0.0
    charbonnier_eps: float = 1e-3  # ε
    device: str = "cpu"
    threads: int = 1
    eval_every: int = 500  # steps between held-out checks
    val_pairs: int = 32  # pairs in the periodic held-out check
    eval_pairs: int = 96  # pairs in the final measurement
    eval_patch: int = 192
    widths: tuple[int, ...] = ExpertConfig.widths
    blocks: tuple[int, ...] = ExpertConfig.blocks
    workers: int = 0  # data-synthesis processes (0: in the training process; training.batch_stream)

    @property
    def name(self) -> str:
        return EXPERT_NAMES[self.category]


def training_batch(category: str, patches: CleanPatches, size: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One step's data: ``size`` degraded patches and their targets, uint8 (size, P, P, 3) each."""
    pairs = [expert_pair(category, patches.sample(rng), rng) for _ in range(size)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def make_pairs(category: str, patches: CleanPatches, count: int, seed: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` (input, target) pairs from their own random stream, as two uint8 (N, H, W, 3) arrays."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
    pairs = [expert_pair(category, patches.sample(rng), rng) for _ in range(count)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


@torch.no_grad()
def restore(model: ExpertNet, images: np.ndarray, device: torch.device, chunk: int = 8) -> np.ndarray:
    """Run the expert on uint8 (N, H, W, 3) whose sides are multiples of ``model.config.multiple``."""
    was_training = model.training
    model.eval()
    out = np.concatenate([to_uint8(model(to_tensor(images[i:i + chunk], device)))
                          for i in range(0, len(images), chunk)])
    model.train(was_training)
    return out


@torch.no_grad()
def charbonnier(model: ExpertNet, inputs: np.ndarray, targets: np.ndarray, eps: float, device: torch.device,
                chunk: int = 8) -> float:
    """The training loss on fixed pairs (eval mode)."""
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(inputs), chunk):
        x, y = to_tensor(inputs[i:i + chunk], device), to_tensor(targets[i:i + chunk], device)
        total += float(torch.sqrt((model(x) - y) ** 2 + eps**2).mean()) * len(x)
    model.train(was_training)
    return total / len(inputs)


def expert_metrics(inputs: np.ndarray, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) of input and output against the target, their difference, share improved."""
    p_in = np.array([psnr(t, x) for t, x in zip(targets, inputs)])
    p_out = np.array([psnr(t, y) for t, y in zip(targets, outputs)])
    finite = np.isfinite(p_in) & np.isfinite(p_out)
    return {"psnr_in": float(p_in[finite].mean()), "psnr_out": float(p_out[finite].mean()),
            "psnr_gain": float((p_out - p_in)[finite].mean()), "improved": float(np.mean(p_out[finite] > p_in[finite]))}


def train_expert(cfg: ExpertTrainConfig, out_dir: str | Path, report: StepReport | None = None,
                 command: str | None = None) -> dict[str, Any]:
    """Train, measure and save ``out_dir/NAME.safetensors`` + card + curve; return the card."""
    if cfg.category not in EXPERT_CATEGORIES:
        raise ValueError(f"no expert for category {cfg.category!r}; trainable: {', '.join(EXPERT_CATEGORIES)}")
    t0 = time.perf_counter()
    device = setup_device(cfg.device, cfg.threads)
    seed_all(cfg.seed)
    net_cfg = ExpertConfig(widths=tuple(cfg.widths), blocks=tuple(cfg.blocks))
    for side, what in ((cfg.patch, "--patch"), (cfg.eval_patch, "eval_patch")):
        if side % net_cfg.multiple:
            raise ValueError(f"{what} ({side}) must be a multiple of {net_cfg.multiple}")
    patches = CleanPatches(cfg.data, cfg.patch)
    model = ExpertNet(net_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]))
    val_in, val_gt = make_pairs(cfg.category, patches, cfg.val_pairs, cfg.seed, 1)

    history: dict[str, list[float]] = {"loss": []}
    evals: dict[str, list[tuple[int, float]]] = {"val_loss": [], "val_psnr_gain": []}

    def check(step: int) -> dict[str, float]:
        out = restore(model, val_in, device)
        m = {"val_loss": charbonnier(model, val_in, val_gt, cfg.charbonnier_eps, device),
             "val_psnr_gain": expert_metrics(val_in, out, val_gt)["psnr_gain"]}
        for key, points in evals.items():
            points.append((step, m[key]))
        return m

    check(0)
    model.train()

    batches = batch_stream(partial(training_batch, cfg.category, patches, cfg.batch_size), cfg.steps, cfg.seed, rng,
                           cfg.workers)

    def batch_loss() -> tuple[torch.Tensor, dict[str, float]]:
        degraded, target = next(batches)
        x = to_tensor(degraded, device)  # (B, 3, P, P) degraded
        y = to_tensor(target, device)  # (B, 3, P, P) target
        loss = torch.sqrt((model(x) - y) ** 2 + cfg.charbonnier_eps**2).mean()
        return loss, {"loss": loss.item()}

    optimise(model, opt, cfg, batch_loss, history, check, report)
    train_seconds = time.perf_counter() - t0

    eval_patches = CleanPatches(cfg.data, cfg.eval_patch)
    test_in, test_gt = make_pairs(cfg.category, eval_patches, cfg.eval_pairs, cfg.seed, 3)
    measured = expert_metrics(test_in, restore(model, test_in, device), test_gt)

    out_dir = Path(out_dir)
    curve = plot_curves(out_dir / f"{cfg.name}.curve.png", f"{cfg.name}: Charbonnier loss", history, evals)
    card = {
        **card_header("tool", cfg.name, train_seconds, device, cfg.threads),
        "category": cfg.category,
        "data": patches.describe(),
        **card_settings(cfg),
        "measured": {"held_out": f"{cfg.eval_pairs} synthetic pairs of {cfg.eval_patch}-pixel patches of the "
                                 "training pictures (own random stream)", **measured},
        **card_footer(history, evals, curve, command, t0, loss_window=100),
    }
    _, card_path = cards.save(model, out_dir / f"{cfg.name}.safetensors", card)
    return cards.read_card(card_path)
