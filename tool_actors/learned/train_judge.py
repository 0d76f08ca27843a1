"""Training the learned no-reference judge by ranking synthetic distortions (RankIQA's idea).

Each step draws ``batch_size`` judge groups (``data.judge_group``: one clean patch and ≈ 12
distorted versions — degradations, remedies, outputs of the registered tools (``toolbox``),
over-processing — with their known pairwise orders) and minimises

    L = L_rank + λ · L_reg + μ · L_diff
    L_rank = mean over ordered pairs (i above j) of  τ · softplus((m_ij − (s_i − s_j)) / τ)
    L_reg  = mean Huber(s_i − level_i, δ = 0.5)
    L_diff = mean Huber((s_i − s̄_g) − (level_i − l̄_g), δ = 0.5)

where ``s`` is the raw network output, ``level`` the full-reference quality level of each
version (1–5, from PSNR and SSIM against its clean patch, ``level_psnr_weight`` the share of
PSNR), ``s̄_g`` and ``l̄_g`` the means over the
version's group, and the margin ``m_ij`` = clip(level_i − level_j, 0.05, 2): a larger quality
gap asks for a larger score gap. ``L_diff`` asks score *differences* between versions of one
picture to equal their level differences whatever the picture (a reward is a score difference,
and it needs no knowledge of what a clean picture looks like); ``L_reg`` anchors the absolute
scale across pictures.

Structural pairs (the clean patch above every version, a lighter or shorter degradation chain above
a heavier or longer one) count ``structural_weight`` times in the mean of ``L_rank``; with
``sharpening_pairs`` unsharp masking of the degraded patch joins them wherever it lowered PSNR
(``data.judge_group``).

With ``soft_references`` > 0 that share of the groups is built around a softened, flatter copy of
the clean patch (``data.soft_reference``), which then ranks above its own sharpened or stretched
versions: a soft photograph is not a damaged one.

With ``average_from`` < 1 the saved network is the average of the weights at the held-out checks
from that fraction of the steps on (``training.optimise``).

After training, a monotone 4-parameter logistic (``calibration.Logistic4``) is fitted on one set
of held-out synthetic groups and the judge is measured on another (``judge_metrics``); both sets
are drawn from the training pictures with their own random streams, at ``eval_patch`` pixels.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tool_actors.learned import cards
from tool_actors.learned.calibration import Logistic4
from tool_actors.learned.data import CleanPatches, JudgeGroup, judge_group, soft_reference
from tool_actors.learned.nets import JudgeConfig, JudgeNet
from tool_actors.learned.toolbox import ToolboxTool, load_toolbox
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


@dataclass
class JudgeTrainConfig:
    """Settings of ``restore-ray judge train`` (recorded in the card)."""

    data: str = "builtin"  # 'builtin' (TRAIN photographs), 'builtin+photos' or a folder of clean images
    seed: int = 0
    steps: int = 3000
    batch_size: int = 6  # judge groups per step (≈ 11 images each)
    patch: int = 96  # training patch side, pixels
    lr: float = 1e-3  # peak learning rate (AdamW, cosine schedule)
    warmup: int = 100  # warm-up steps
    weight_decay: float = 1e-4
    reg_weight: float = 0.5  # λ
    diff_weight: float = 1.0  # μ
    tau: float = 0.1  # τ, softness of the ranking hinge
    init: str | None = None  # start from this judge's weights (.safetensors) instead of a random initialisation
    toolbox: bool = True  # add outputs of the registered embedded tools (not the learned experts) to groups
    tool_outputs: int = 3  # tool outputs per group (with the toolbox)
    device: str = "cpu"
    threads: int = 1
    eval_every: int = 250  # steps between held-out checks
    val_groups: int = 24  # groups in the periodic held-out check
    eval_groups: int = 48  # groups in each of the calibration and the final test set
    eval_patch: int = 192  # side of the calibration/test patches
    name: str = "judge-small"
    widths: tuple[int, ...] = JudgeConfig.widths
    tone_stats: bool = True  # feed the head global tone statistics (JudgeConfig.tone_stats)
    tone_branch: bool = False  # add a score term from the tone statistics alone (JudgeConfig.tone_branch)
    soft_references: float = 0.0  # share of training groups whose clean patch is softened first (data.soft_reference)
    detail_stats: bool = False  # feed the head the input's sharpness statistics (JudgeConfig.detail_stats)
    block_stats: bool = False  # feed the head the input's 8×8 blockiness (JudgeConfig.block_stats)
    sharpening_pairs: bool = False  # unsharp masking ranks below what it sharpened where PSNR fell (data.judge_group)
    structural_weight: float = 1.0  # weight of the structural pairs (clean above all, fewer/lighter above more) in L_rank
    level_psnr_weight: float = 0.5  # share of PSNR (the rest SSIM) in the full-reference level (data.fr_level)
    average_from: float = 1.0  # average the weights of the held-out checks from this fraction of the steps on
    workers: int = 0  # data-synthesis processes (0: in the training process; training.batch_stream)


def make_groups(patches: CleanPatches, count: int, seed: int, stream: int, toolbox: Sequence[ToolboxTool] = (),
                tool_outputs: int = 3, psnr_weight: float = 0.5, sharpening_pairs: bool = False) -> list[JudgeGroup]:
    """``count`` judge groups from their own random stream."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
    return [judge_group(patches.sample(rng), rng, toolbox, tool_outputs, psnr_weight=psnr_weight,
                        sharpening_pairs=sharpening_pairs) for _ in range(count)]


class TrainingGroups:
    """One step's training groups from a generator. Pickles without its tools (they hold native
    libraries' state): a data worker builds the same tools, by name, on first use."""

    def __init__(self, cfg: JudgeTrainConfig, patches: CleanPatches, toolbox: Sequence[ToolboxTool]) -> None:
        self.cfg, self.patches, self.toolbox = cfg, patches, list(toolbox)
        self.tool_names = [t.name for t in self.toolbox]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "toolbox": None}

    def __call__(self, rng: np.random.Generator) -> list[JudgeGroup]:
        cfg = self.cfg
        if self.toolbox is None:
            self.toolbox = load_toolbox(self.tool_names)
        groups = []
        for _ in range(cfg.batch_size):
            clean = self.patches.sample(rng)
            if cfg.soft_references and rng.uniform() < cfg.soft_references:
                clean = soft_reference(clean, rng)
            groups.append(judge_group(clean, rng, self.toolbox, cfg.tool_outputs, psnr_weight=cfg.level_psnr_weight,
                                      sharpening_pairs=cfg.sharpening_pairs))
        return groups


@dataclass
class GroupBatch:
    """Groups flattened for one forward pass."""

    images: torch.Tensor  # (B, 3, H, W) float in [0, 1]
    levels: torch.Tensor  # (B,) full-reference quality levels
    group: torch.Tensor  # (B,) index of each image's group
    pairs: torch.Tensor  # (P, 2) flat indices, first above second
    structural: torch.Tensor  # (P,) bool


def group_batch(groups: list[JudgeGroup], device: torch.device) -> GroupBatch:
    """Flatten ``groups`` into one ``GroupBatch`` on ``device``."""
    images, levels, group, pairs, structural = [], [], [], [], []
    for k, g in enumerate(groups):
        base = len(images)
        images.extend(g.images)
        levels.extend(g.level)
        group.extend([k] * len(g.images))
        pairs.extend((base + i, base + j) for i, j, _ in g.pairs)
        structural.extend(s for _, _, s in g.pairs)
    return GroupBatch(to_tensor(images, device), torch.tensor(levels, dtype=torch.float32, device=device),
                      torch.tensor(group, dtype=torch.long, device=device),
                      torch.tensor(pairs, dtype=torch.long, device=device).reshape(-1, 2),
                      torch.tensor(structural, dtype=torch.bool, device=device))


def _centred(x: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """``x`` minus the mean of its group."""
    n = int(group.max()) + 1
    sums = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, group, x)
    counts = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, group, torch.ones_like(x))
    return x - (sums / counts)[group]


def judge_loss(s: torch.Tensor, batch: GroupBatch, reg_weight: float, diff_weight: float,
               tau: float, structural_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """``L_rank + λ L_reg + μ L_diff`` (module docstring) and its parts; structural pairs count
    ``structural_weight`` times in the weighted mean of ``L_rank``."""
    levels, pairs = batch.levels, batch.pairs
    diff = s[pairs[:, 0]] - s[pairs[:, 1]]  # (P,)
    margin = (levels[pairs[:, 0]] - levels[pairs[:, 1]]).clamp(0.05, 2.0)
    hinge = tau * F.softplus((margin - diff) / tau)
    if structural_weight == 1.0:
        rank_loss = hinge.mean()
    else:
        w = torch.where(batch.structural, structural_weight, 1.0)
        rank_loss = (hinge * w).sum() / w.sum()
    reg_loss = F.huber_loss(s, levels, delta=0.5)
    diff_loss = F.huber_loss(_centred(s, batch.group), _centred(levels, batch.group), delta=0.5)
    loss = rank_loss + reg_weight * reg_loss + diff_weight * diff_loss
    return loss, {"loss": loss.item(), "rank_loss": rank_loss.item(), "reg_loss": reg_loss.item(),
                  "diff_loss": diff_loss.item(), "pair_acc": (diff > 0).float().mean().item()}


@torch.no_grad()
def raw_scores(model: JudgeNet, groups: list[JudgeGroup], device: torch.device) -> list[np.ndarray]:
    """The network's raw output for every image of every group."""
    model.eval()
    out = [model(to_tensor(g.images, device)).cpu().numpy().astype(np.float64) for g in groups]
    model.train()
    return out


def judge_metrics(scores: list[np.ndarray], groups: list[JudgeGroup]) -> dict[str, float]:
    """How well scores follow the synthetic ground truth of held-out groups.

    ``pair_accuracy`` over all known pairs; ``structural_accuracy`` over the structural ones;
    ``clean_above`` the share of distorted versions scored below their clean patch;
    ``delta_spearman`` Spearman ρ between score change and PSNR change from the most degraded
    version to each restoration attempt and tool output (the judge's job as a reward: did the tool
    help?);
    ``level_spearman`` and ``level_pearson`` against the quality level over all images.
    """
    from scipy.stats import pearsonr, spearmanr

    right = total = right_s = total_s = above = n_dist = 0
    d_score, d_psnr, all_s, all_level = [], [], [], []
    for s, g in zip(scores, groups):
        for i, j, structural in g.pairs:
            ok = s[i] > s[j]
            right += ok
            total += 1
            if structural:
                right_s += ok
                total_s += 1
        above += int(np.sum(s[1:] < s[0]))
        n_dist += len(s) - 1
        full = max(i for i, t in enumerate(g.tags) if t.startswith("chain:"))
        for k, tag in enumerate(g.tags):
            if tag.startswith(("remedy:", "wiener_true:", "after:", "tool:", "usm")):
                d_score.append(s[k] - s[full])
                d_psnr.append(g.psnr[k] - g.psnr[full])
        all_s.extend(s.tolist())
        all_level.extend(g.level)
    return {
        "pair_accuracy": right / max(total, 1),
        "structural_accuracy": right_s / max(total_s, 1),
        "clean_above": above / max(n_dist, 1),
        "delta_spearman": float(spearmanr(d_score, d_psnr).statistic),
        "level_spearman": float(spearmanr(all_s, all_level).statistic),
        "level_pearson": float(pearsonr(all_s, all_level).statistic),
    }


def train_judge(cfg: JudgeTrainConfig, out_dir: str | Path, report: StepReport | None = None,
                command: str | None = None) -> dict[str, Any]:
    """Train, calibrate, measure and save ``out_dir/NAME.safetensors`` + card + curve; return the card."""
    t0 = time.perf_counter()
    device = setup_device(cfg.device, cfg.threads)
    seed_all(cfg.seed)
    patches = CleanPatches(cfg.data, cfg.patch)
    toolbox = load_toolbox() if cfg.toolbox else []
    if cfg.init:
        model = cards.load(cfg.init, "JudgeNet", str(device))[0].train()
    else:
        model = JudgeNet(JudgeConfig(widths=tuple(cfg.widths), tone_stats=cfg.tone_stats,
                                      tone_branch=cfg.tone_branch, detail_stats=cfg.detail_stats,
                                      block_stats=cfg.block_stats)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]))
    val = make_groups(patches, cfg.val_groups, cfg.seed, 1, toolbox, cfg.tool_outputs, cfg.level_psnr_weight,
                      cfg.sharpening_pairs)

    def loss_of(scores: torch.Tensor, batch: GroupBatch) -> tuple[torch.Tensor, dict[str, float]]:
        return judge_loss(scores, batch, cfg.reg_weight, cfg.diff_weight, cfg.tau, cfg.structural_weight)

    history: dict[str, list[float]] = {"loss": [], "rank_loss": [], "reg_loss": [], "diff_loss": []}
    evals: dict[str, list[tuple[int, float]]] = {"val_loss": [], "val_pair_accuracy": [], "val_delta_spearman": []}
    val_batch = group_batch(val, device)

    def check(step: int) -> dict[str, float]:
        m = {f"val_{k}": v for k, v in judge_metrics(raw_scores(model, val, device), val).items()}
        with torch.no_grad():
            model.eval()
            m["val_loss"] = loss_of(model(val_batch.images), val_batch)[1]["loss"]
            model.train()
        for key, points in evals.items():
            points.append((step, m[key]))
        return {key: m[key] for key in evals}

    check(0)
    model.train()

    batches = batch_stream(TrainingGroups(cfg, patches, toolbox), cfg.steps, cfg.seed, rng, cfg.workers)

    def batch_loss() -> tuple[torch.Tensor, dict[str, float]]:
        batch = group_batch(next(batches), device)
        return loss_of(model(batch.images), batch)

    optimise(model, opt, cfg, batch_loss, history, check, report)
    train_seconds = time.perf_counter() - t0

    eval_patches = CleanPatches(cfg.data, cfg.eval_patch)
    calib_groups = make_groups(eval_patches, cfg.eval_groups, cfg.seed, 2, toolbox, cfg.tool_outputs,
                               cfg.level_psnr_weight, cfg.sharpening_pairs)
    test_groups = make_groups(eval_patches, cfg.eval_groups, cfg.seed, 3, toolbox, cfg.tool_outputs,
                              cfg.level_psnr_weight, cfg.sharpening_pairs)
    calib_raw = raw_scores(model, calib_groups, device)
    calibration = Logistic4.fit(np.concatenate(calib_raw), np.concatenate([g.level for g in calib_groups]))
    test_scores = [calibration(s).astype(np.float64) for s in raw_scores(model, test_groups, device)]
    measured = judge_metrics(test_scores, test_groups)

    out_dir = Path(out_dir)
    curve = plot_curves(out_dir / f"{cfg.name}.curve.png", f"{cfg.name}: ranking + regression",
                        history, evals)
    card = {
        **card_header("scorer", cfg.name, train_seconds, device, cfg.threads),
        "data": {**patches.describe(), "toolbox": [t.name for t in toolbox]},
        **card_settings(cfg),
        "score_range": [1.0, 5.0],
        "higher_is_better": True,
        "calibration": calibration.to_dict(),
        "measured": {"held_out": f"{cfg.eval_groups} synthetic groups of {cfg.eval_patch}-pixel patches "
                                  "of the training pictures (own random stream)", **measured},
        **card_footer(history, evals, curve, command, t0, loss_window=50),
    }
    _, card_path = cards.save(model, out_dir / f"{cfg.name}.safetensors", card)
    return cards.read_card(card_path)
