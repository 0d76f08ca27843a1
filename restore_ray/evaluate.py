"""Evaluation: run planners on held-out images and compare reward score, PSNR, SSIM and cost.

Every planner sees the same images and the same executor (tools, reward scorer, encoder). Ground
truth is read here — evaluation is the only place it is used.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from restore_ray.env import downscale
from restore_ray.imageio import read_image
from restore_ray.manifest import Record
from restore_ray.planners import Planner
from tool_actors.executor import Executor


@dataclass
class EvalRow:
    """One planner on one image."""

    id: str
    setting: str | None
    combination: str
    planner: str
    initial_quality: float
    final_quality: float
    psnr_in: float
    psnr: float
    ssim_in: float
    ssim: float
    tool_calls: int
    scorer_calls: int
    seconds: float
    plan: list[str]


def pick(records: Sequence[Record], per_combination: int | None, split: str = "test") -> list[Record]:
    """Test records, at most ``per_combination`` of each (setting, combination), in manifest order."""
    counts: dict[tuple[str | None, str], int] = defaultdict(int)
    chosen = []
    for r in records:
        if r.split != split or r.gt is None:
            continue
        key = (r.setting, r.combination)
        if per_combination is not None and counts[key] >= per_combination:
            continue
        counts[key] += 1
        chosen.append(r)
    return chosen


def evaluate(records: Sequence[Record], planners: Sequence[Planner], executor: Executor,
             max_image_side: int | None = 256,
             progress: Callable[[int, int], None] | None = None) -> list[EvalRow]:
    """Run each planner on each record; PSNR/SSIM against the record's ground truth."""
    from tool_actors.metrics import psnr, ssim

    rows: list[EvalRow] = []
    total, done = len(records) * len(planners), 0
    for rec in records:
        if rec.gt_path is None:
            raise ValueError(f"record {rec.id} has no ground truth; evaluation needs gt")
        lq = downscale(read_image(rec.lq_path), max_image_side)
        gt = downscale(read_image(rec.gt_path), max_image_side)
        if gt.shape != lq.shape:
            raise ValueError(f"record {rec.id}: lq {lq.shape} and gt {gt.shape} differ in size")
        p_in, s_in = psnr(lq, gt), ssim(lq, gt)
        for planner in planners:
            res = planner.run(lq, executor)
            rows.append(EvalRow(rec.id, rec.setting, rec.combination, planner.name, res.initial_quality,
                                res.final_quality, p_in, psnr(res.image, gt), s_in, ssim(res.image, gt),
                                res.tool_calls, res.scorer_calls, res.seconds, res.plan))
            done += 1
            if progress is not None:
                progress(done, total)
    return rows


METRICS = ("final_quality", "psnr", "ssim", "tool_calls", "seconds")


def summarise(rows: Sequence[EvalRow]) -> dict[str, dict[str, dict[str, float]]]:
    """Means per setting (and 'all') per planner: {setting: {planner: {metric: mean, 'n': count}}}."""
    groups: dict[tuple[str, str], list[EvalRow]] = defaultdict(list)
    for r in rows:
        groups[(r.setting or "single", r.planner)].append(r)
        groups[("all", r.planner)].append(r)
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (setting, planner), rs in groups.items():
        stats = {m: float(np.mean([getattr(r, m) for r in rs])) for m in METRICS}
        stats["initial_quality"] = float(np.mean([r.initial_quality for r in rs]))
        stats["psnr_in"] = float(np.mean([r.psnr_in for r in rs]))
        stats["n"] = float(len(rs))
        out[setting][planner] = stats
    order = {"I": 0, "II": 1, "III": 2, "IV": 3, "single": 4, "all": 5}
    return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], 9)))


def save_rows(rows: Sequence[EvalRow], path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": [asdict(r) for r in rows], "summary": summarise(rows)}, indent=2) + "\n")
    return path
