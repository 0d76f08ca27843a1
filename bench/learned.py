"""Benchmark the learned judge (``judge-small``) and the learned experts on the builtin TEST records.

Judge (and, for comparison, every other available embedded scorer), on the test split of
``single.jsonl`` (each degradation alone) and ``manifest.jsonl`` (mixtures of settings I–IV):

* ``delta_spearman``: Spearman ρ between the change of the (normalised, higher-is-better) score
  and the change of PSNR, over every available embedded tool applied to every test image — does
  the score measure how much a tool helped? Also per degradation (single records) and the share
  of tool applications where the signs agree;
* ``clean_above``: the share of (clean, degraded) pairs where the clean image scores better;
* ``unsharp``: unsharp masking (amount 1, σ = 1.5) on the blurred single records: mean score
  change (normalised), share of images whose score rose, mean PSNR change;
* ``misapplied``: the tool applications aimed at a degradation the image does not have (deraining a
  rain-free image): their mean PSNR change, and the share where the score rose while PSNR fell —
  what a policy trained on the score is paid for over-processing.

Experts: mean ΔPSNR / ΔSSIM on the single test records of their degradation, beside every
classical tool of the same category; for the deblurring experts also on Gaussian blur (σ 1, 2, 3)
of the test images, a kernel family the classical estimators do not model; for the JPEG expert
also on the mixtures that end in JPEG. Time per 512×512 image (one thread, median of repeats).

    python bench/learned.py                    # builds a builtin dataset (per-combo 30) in a temp folder
    python bench/learned.py --data /tmp/ds --scorers judge-small
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tool_actors.learned.experts
import tool_actors.learned.judge  # noqa: F401 - registers judge-small
from bench.tools import time_per_image
from restore_ray.imageio import read_image
from restore_ray.manifest import Record, read_manifest
from restore_ray.names import CATEGORY_TO_DEGRADATION
from tool_actors.learned.distortions import psnr, ssim
from tool_actors.registry import SCORERS, TOOLS

GAUSSIAN_SIGMAS = (1.0, 2.0, 3.0)
TARGETS = {"delta_spearman": 0.6, "clean_above": 0.95, "dejpeg_gain_db": 1.0}

console = Console()


def usm(image: np.ndarray) -> np.ndarray:
    """Unsharp masking, amount 1, Gaussian σ = 1.5."""
    x = image.astype(np.float32)
    return np.clip(np.rint(2.0 * x - cv2.GaussianBlur(x, (0, 0), 1.5)), 0, 255).astype(np.uint8)


def load_records(data: Path | None, split: str = "test") -> tuple[list[Record], list[Record], Path]:
    """Records of ``split``: single-degradation ones and mixtures (built with per-combo 30 if absent)."""
    if data is None or not (data / "single.jsonl").exists():
        from restore_ray.datasets import build_dataset

        target = data or Path(tempfile.mkdtemp(prefix="restore-ray-bench-"))
        console.print(f"building a builtin dataset in {target} …")
        build_dataset("builtin", target, per_combo=30)
        data = target
    single = [r for r in read_manifest(data / "single.jsonl") if r.split == split and r.gt is not None]
    mixed = [r for r in read_manifest(data / "manifest.jsonl") if r.split == split and r.gt is not None]
    return single, mixed, data


def scorer_metrics(scorer, single: list[dict], mixed: list[dict]) -> dict:
    """The judge's measures for one scorer over cached images and tool outputs."""
    def norm(images: list[np.ndarray]) -> np.ndarray:
        return scorer.normalised(scorer(np.stack(images)))

    d_s, d_p, per_deg, kinds = [], [], {}, []
    above = {"single": [], "mixed": []}
    unsharp, misapplied = [], []
    for kind, items in (("single", single), ("mixed", mixed)):
        for it in items:
            outs = list(it["outputs"].values())
            s = norm([it["gt"], it["lq"]] + outs + ([it["usm"]] if "usm" in it else []))
            above[kind].append(bool(s[0] > s[1]))
            for k, name in enumerate(it["outputs"]):
                ds, dp = float(s[2 + k] - s[1]), it["d_psnr"][name]
                d_s.append(ds)
                d_p.append(dp)
                kinds.append(kind)
                if name in it["misapplied"]:
                    misapplied.append((ds, dp))
                if kind == "single":
                    per_deg.setdefault(it["degradation"], ([], []))
                    per_deg[it["degradation"]][0].append(ds)
                    per_deg[it["degradation"]][1].append(dp)
            if "usm" in it:
                unsharp.append((float(s[-1] - s[1]), it["usm_d_psnr"]))
    d_s, d_p, kinds = np.array(d_s), np.array(d_p), np.array(kinds)
    u, w = np.array(unsharp), np.array(misapplied).reshape(-1, 2)
    return {
        "delta_spearman": float(spearmanr(d_s, d_p).statistic),
        "delta_spearman_single": float(spearmanr(d_s[kinds == "single"], d_p[kinds == "single"]).statistic),
        "delta_spearman_mixed": float(spearmanr(d_s[kinds == "mixed"], d_p[kinds == "mixed"]).statistic),
        "delta_spearman_per_degradation": {k: float(spearmanr(a, b).statistic) for k, (a, b) in per_deg.items()},
        "sign_agreement": float(np.mean(np.sign(d_s) == np.sign(d_p))),
        "n_tool_applications": int(d_s.size),
        "clean_above_single": float(np.mean(above["single"])),
        "clean_above_mixed": float(np.mean(above["mixed"])),
        "clean_above": float(np.mean(above["single"] + above["mixed"])),
        "unsharp_on_blur": {"n": len(u), "mean_d_score": float(u[:, 0].mean()), "share_score_rose": float(np.mean(u[:, 0] > 0)),
                            "mean_d_psnr": float(u[:, 1].mean()), "share_psnr_fell": float(np.mean(u[:, 1] < 0)),
                            "share_score_rose_where_psnr_fell": float(np.mean(u[u[:, 1] < 0, 0] > 0)) if np.any(u[:, 1] < 0)
                            else float("nan"),
                            "sign_agreement": float(np.mean(np.sign(u[:, 0]) == np.sign(u[:, 1])))},
        "misapplied": {"n": len(w), "mean_d_psnr": float(w[:, 1].mean()) if len(w) else float("nan"),
                       "share_psnr_fell": float(np.mean(w[:, 1] < 0)) if len(w) else float("nan"),
                       "share_score_rose_where_psnr_fell": float(np.mean(w[w[:, 1] < 0, 0] > 0))
                       if np.any(w[:, 1] < 0) else float("nan")},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="dataset folder (single.jsonl, manifest.jsonl); built if absent")
    ap.add_argument("--scorers", default=None, help="comma-separated scorers (default: every available embedded one)")
    ap.add_argument("--split", default="test", choices=("test", "train"),
                    help="'test' (the measurement) or 'train' (records of the training pictures, for development)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per component (median is reported)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "learned.json")
    args = ap.parse_args(argv)

    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    single_recs, mixed_recs, data = load_records(args.data, args.split)
    tool_names = [e.name for e in TOOLS.entries() if e.embedded and e.availability()[0]]
    tools = {n: TOOLS.build(n) for n in tool_names}
    scorer_names = args.scorers.split(",") if args.scorers else \
        [e.name for e in SCORERS.entries() if e.embedded and e.availability()[0]]
    scorers = {n: SCORERS.build(n) for n in scorer_names}

    # every tool on every test image, once
    def prepare(recs: list[Record], blurred_usm: bool) -> list[dict]:
        items = []
        for r in recs:
            lq, gt = read_image(r.lq_path), read_image(r.gt_path)
            p_lq = psnr(gt, lq)
            it = {"id": r.id, "degradation": "+".join(r.degradations), "lq": lq, "gt": gt, "outputs": {}, "d_psnr": {},
                  "d_ssim": {}, "psnr_lq": p_lq,
                  "misapplied": {n for n in tools
                                 if CATEGORY_TO_DEGRADATION[TOOLS.get(n).category] not in r.degradations}}
            for n, tool in tools.items():
                out = tool(lq[None])[0]
                it["outputs"][n] = out
                it["d_psnr"][n] = psnr(gt, out) - p_lq
                it["d_ssim"][n] = ssim(gt, out) - ssim(gt, lq)
            if blurred_usm and r.degradations[0] in ("motion_blur", "defocus_blur"):
                it["usm"] = usm(lq)
                it["usm_d_psnr"] = psnr(gt, it["usm"]) - p_lq
            items.append(it)
            bar.advance(task)
        return items

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(f"{len(tools)} tools on the test images", total=len(single_recs) + len(mixed_recs))
        single = prepare(single_recs, True)
        mixed = prepare(mixed_recs, False)
        task = bar.add_task("scorers", total=len(scorers))
        judged = {}
        for n, sc in scorers.items():
            bar.update(task, description=f"scoring with {n}")
            judged[n] = scorer_metrics(sc, single, mixed)
            bar.advance(task)

    # experts against the classical tools of their category
    experts = {}
    for n in tools:
        if not n.endswith("-small"):
            continue
        cat = TOOLS.get(n).category
        peers = [m for m in tools if TOOLS.get(m).category == cat]
        deg = {"dejpeg": "jpeg", "deblur_defocus": "defocus_blur", "deblur_motion": "motion_blur"}[cat]
        rows = {m: {"single_d_psnr": float(np.mean([it["d_psnr"][m] for it in single if it["degradation"] == deg])),
                    "single_d_ssim": float(np.mean([it["d_ssim"][m] for it in single if it["degradation"] == deg])),
                    "single_improved": float(np.mean([it["d_psnr"][m] > 0 for it in single if it["degradation"] == deg]))}
                for m in peers}
        if cat == "dejpeg":
            ends = [it for it in mixed if it["degradation"].endswith("jpeg")]
            for m in peers:
                rows[m]["mixed_ending_in_jpeg_d_psnr"] = float(np.mean([it["d_psnr"][m] for it in ends]))
        else:  # Gaussian blur of the clean test images
            gts = {it["id"].split("_")[-1]: it["gt"] for it in single}
            for m in peers:
                gains = []
                for gt in gts.values():
                    for sigma in GAUSSIAN_SIGMAS:
                        blurred = cv2.GaussianBlur(gt, (0, 0), sigma)
                        gains.append(psnr(gt, tools[m](blurred[None])[0]) - psnr(gt, blurred))
                rows[m]["gaussian_d_psnr"] = float(np.mean(gains))
        classical = [m for m in peers if TOOLS.get(m).backend == "classical"]
        others = [m for m in peers if not m.endswith("-small")]
        best = max(classical, key=lambda m: rows[m]["single_d_psnr"]) if classical else None
        best_other = max(others, key=lambda m: rows[m]["single_d_psnr"]) if others else None
        experts[n] = {"category": cat, "tools": rows, "best_classical": best, "best_other_tool": best_other,
                      "beats_best_other": bool(best_other is None or
                                               rows[n]["single_d_psnr"] > rows[best_other]["single_d_psnr"])}

    sample = single[0]["lq"]
    timing = {f"scorer:{n}": 1000 * time_per_image(sc, sample, args.repeats) for n, sc in scorers.items()}
    timing.update({f"tool:{n}": 1000 * time_per_image(t, sample, args.repeats) for n, t in tools.items()
                   if n.endswith("-small")})

    table = Table("scorer", "ρ(Δs, ΔPSNR)", "single", "mixed", "sign agree", "clean > degraded",
                  "USM: Δs>0 where ΔPSNR<0", "misapplied: Δs>0 where ΔPSNR<0", "ms/512²")
    for n, m in judged.items():
        table.add_row(n, f"{m['delta_spearman']:+.3f}", f"{m['delta_spearman_single']:+.3f}",
                      f"{m['delta_spearman_mixed']:+.3f}", f"{m['sign_agreement']:.0%}", f"{m['clean_above']:.1%}",
                      f"{m['unsharp_on_blur']['share_score_rose_where_psnr_fell']:.0%}",
                      f"{m['misapplied']['share_score_rose_where_psnr_fell']:.0%}", f"{timing[f'scorer:{n}']:.0f}")
    console.print(table)
    for n, e in experts.items():
        t = Table(f"{n} vs {e['category']} tools", "single ΔPSNR", "ΔSSIM", "improved", "other")
        for m, row in e["tools"].items():
            other = {k: v for k, v in row.items() if not k.startswith("single")}
            t.add_row(m, f"{row['single_d_psnr']:+.2f}", f"{row['single_d_ssim']:+.3f}", f"{row['single_improved']:.0%}",
                      ", ".join(f"{k} {v:+.2f}" for k, v in other.items()))
        console.print(t)
    console.print({k: round(v, 1) for k, v in timing.items()})

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "data": str(data), "split": args.split, "n_single": len(single), "n_mixed": len(mixed), "tools": tool_names,
        "threads": 1, "machine": platform.machine(), "python": platform.python_version(), "targets": TARGETS,
        "scorers": judged, "experts": experts, "ms_per_512": timing,
    }, indent=2, ensure_ascii=False) + "\n")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
