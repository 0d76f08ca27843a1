"""Reward study (the paper's Table 3 in our setting): which no-reference score tracks real restoration?

Every embedded tool (``TOOLS.embedded()``) is applied once to each degraded TEST image of the
builtin dataset (Settings I–IV held-out records and the single-degradation test records). For each
available NR scorer the tool outputs are scored and compared with the full-reference truth:

* ``spearman_psnr`` / ``spearman_ssim``: Spearman ρ between Δscore = score(out) − score(in),
  sign-corrected so that positive means "the scorer says it got better", and ΔPSNR / ΔSSIM against
  the clean image. Higher = the reward agrees with real improvement.
* ``sign_agreement``: share of tool outputs where Δscore and ΔPSNR have the same sign (outputs with
  |ΔPSNR| < 0.05 dB are left out as neither better nor worse).
* ``clean_above_degraded``: share of degraded test images whose clean original the scorer prefers.
* per-degradation ρ(Δscore, ΔPSNR) on the single-degradation records, and ms per image.

    python bench/reward_study.py                     # builds the dataset in a temp dir
    python bench/reward_study.py --data /tmp/ds --max-images 60 --weights DIR

Writes ``bench/results/reward_study.json`` and the markdown table between the
``<!-- reward-study:begin -->`` / ``<!-- reward-study:end -->`` markers of ``docs/scorers.md``.
The rule ranks the embedded scorers by the mean of the two Spearman ρ; the table marks the best by
that rule and the configured default reward (``ComponentSettings.scorer``), which is chosen by the
policies trained on it as well (``docs/learned.md``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore_ray.config import ComponentSettings
from restore_ray.datasets import build_dataset
from restore_ray.imageio import read_image
from restore_ray.manifest import Record, read_manifest
from tool_actors.metrics import psnr_batch, ssim_batch
from tool_actors.registry import SCORERS, TOOLS

console = Console()
DOC = ROOT / "docs" / "scorers.md"
BEGIN, END = "<!-- reward-study:begin -->", "<!-- reward-study:end -->"
PSNR_TIE = 0.05


def progress(label: str) -> Progress:
    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def pick_records(data: Path, max_images: int, seed: int) -> list[Record]:
    """Test records with a ground truth, at most ``max_images`` (a fixed random subset, all groups kept)."""
    records = [r for r in read_manifest(data / "manifest.jsonl") + read_manifest(data / "single.jsonl")
               if r.split == "test" and r.gt is not None]
    if max_images and len(records) > max_images:
        rng = np.random.default_rng(seed)
        records = [records[i] for i in sorted(rng.choice(len(records), max_images, replace=False))]
    return records


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(spearmanr(x, y).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (default: build the builtin one)")
    parser.add_argument("--per-combo", type=int, default=30, help="when building: images per combination")
    parser.add_argument("--max-images", type=int, default=80, help="degraded test images to use (0 = all)")
    parser.add_argument("--scorers", default="", help="comma-separated scorer names (default: every available NR scorer)")
    parser.add_argument("--tools", default="", help="comma-separated tool names (default: TOOLS.embedded())")
    parser.add_argument("--weights", default=None, help="weights directory (deep scorers, neural tools)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reward_study.json")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/scorers.md")
    parser.add_argument("--dump", type=Path, default=None,
                        help="also save raw scores and full-reference deltas to this .npz (for further analysis)")
    args = parser.parse_args()

    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    tool_names = [t for t in args.tools.split(",") if t] or TOOLS.embedded()
    if args.scorers:
        scorer_names = [s for s in args.scorers.split(",") if s]
    else:
        scorer_names = [e.name for e in SCORERS.entries()
                        if e.category == "NR" and e.availability(args.weights)[0]]
    console.print(f"tools ({len(tool_names)}): {', '.join(tool_names)}")
    console.print(f"scorers ({len(scorer_names)}): {', '.join(scorer_names)}")

    with tempfile.TemporaryDirectory(prefix="reward_study_") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "ds"
            console.print(f"building the builtin dataset (--per-combo {args.per_combo}) …")
            build_dataset("builtin", data, per_combo=args.per_combo, seed=args.seed)
        records = pick_records(data, args.max_images, args.seed)
        lq = np.stack([read_image(r.lq_path) for r in records])  # (N, H, W, 3)
        gt = np.stack([read_image(r.gt_path) for r in records if r.gt_path is not None])

    # 1. tool outputs (one batch per tool), with the full-reference deltas
    outputs, meta = [], []
    psnr_in, ssim_in = psnr_batch(lq, gt), ssim_batch(lq, gt)
    tool_seconds = {}
    with progress("applying tools") as bar:
        task = bar.add_task("tools", total=len(tool_names))
        for name in tool_names:
            tool = TOOLS.build(name, weights_dir=args.weights, device=args.device)
            start = time.perf_counter()
            out = np.concatenate([tool(lq[i:i + 8]) for i in range(0, len(lq), 8)])
            tool_seconds[name] = (time.perf_counter() - start) / len(lq)
            bar.console.print(f"  {name}: {1000 * tool_seconds[name]:.0f} ms/image")
            outputs.append(out)
            d_psnr = psnr_batch(out, gt) - psnr_in
            d_ssim = ssim_batch(out, gt) - ssim_in
            for i, r in enumerate(records):
                meta.append({"tool": name, "category": tool.category, "image": i, "record": r.id,
                             "degradations": list(r.degradations), "setting": r.setting,
                             "d_psnr": float(d_psnr[i]), "d_ssim": float(d_ssim[i])})
            bar.advance(task)
    out_all = np.concatenate(outputs)  # (T·N, H, W, 3), tool-major
    d_psnr = np.array([m["d_psnr"] for m in meta])
    d_ssim = np.array([m["d_ssim"] for m in meta])
    img_idx = np.array([m["image"] for m in meta])
    single = np.array([r.setting is None for r in records])

    # 2. every scorer on inputs, clean images and tool outputs
    results: dict[str, dict] = {}
    raw_scores: dict[str, np.ndarray] = {}
    with progress("scoring") as bar:
        task = bar.add_task("score", total=len(scorer_names) * (2 * len(lq) + len(out_all)))
        for name in scorer_names:
            scorer = SCORERS.build(name, weights_dir=args.weights, device=args.device)
            sign = 1.0 if scorer.higher_is_better else -1.0

            def run(images: np.ndarray, scorer=scorer) -> np.ndarray:
                vals = []
                for i in range(0, len(images), 8):
                    vals.append(scorer(images[i:i + 8]))
                    bar.advance(task, len(vals[-1]))
                return np.concatenate(vals)

            start = time.perf_counter()
            s_lq = run(lq)
            ms = 1000 * (time.perf_counter() - start) / len(lq)
            s_gt, s_out = run(gt), run(out_all)
            raw_scores.update({f"{name}/lq": s_lq, f"{name}/gt": s_gt, f"{name}/out": s_out})
            bar.console.print(f"  scored with {name}: {ms:.0f} ms/image")
            d_score = sign * (s_out - s_lq[img_idx])
            decided = np.abs(d_psnr) >= PSNR_TIE
            per_deg = {}
            for deg in sorted({r.degradations[0] for r, s in zip(records, single) if s}):
                sel = np.array([single[m["image"]] and m["degradations"] == [deg] for m in meta])
                per_deg[deg] = spearman(d_score[sel], d_psnr[sel])
            results[name] = {
                "higher_is_better": scorer.higher_is_better,
                "embedded": SCORERS.get(name).embedded,
                "spearman_psnr": spearman(d_score, d_psnr),
                "spearman_ssim": spearman(d_score, d_ssim),
                "sign_agreement": float(np.mean(np.sign(d_score[decided]) == np.sign(d_psnr[decided]))),
                "clean_above_degraded": float(np.mean(sign * (s_gt - s_lq) > 0)),
                "clean_above_degraded_single": float(np.mean((sign * (s_gt - s_lq) > 0)[single])),
                "clean_above_degraded_mixed": float(np.mean((sign * (s_gt - s_lq) > 0)[~single])),
                "spearman_psnr_by_degradation": per_deg,
                "ms_per_image": ms,
            }

    decided = np.abs(d_psnr) >= PSNR_TIE
    embedded = {k: v for k, v in results.items() if v["embedded"]}
    best = max(embedded, key=lambda k: 0.5 * (embedded[k]["spearman_psnr"] + embedded[k]["spearman_ssim"])) \
        if embedded else None
    summary = {
        "n_images": len(records), "n_tool_outputs": len(meta), "tools": tool_names,
        "share_psnr_improved": float(np.mean(d_psnr[decided] > 0)) if decided.any() else float("nan"),
        "tool_seconds_per_image": tool_seconds,
        "scorers": results,
        "best_by_rule": best,
        "rule": "embedded scorer with the best mean of Spearman ρ(Δscore, ΔPSNR) and ρ(Δscore, ΔSSIM)",
        "default_reward": ComponentSettings().scorer,
        "data": {"source": "builtin" if args.data is None else str(args.data), "per_combo": args.per_combo,
                 "seed": args.seed, "max_images": args.max_images},
        "seconds": time.perf_counter() - t0,
        "machine": platform.platform(),
    }

    table = Table("scorer", "ρ ΔPSNR", "ρ ΔSSIM", "sign agree", "clean > degraded", "ms/img")
    for name, r in results.items():
        mark = " ★" if name == best else ""
        table.add_row(name + mark, f"{r['spearman_psnr']:+.3f}", f"{r['spearman_ssim']:+.3f}",
                      f"{r['sign_agreement']:.3f}", f"{r['clean_above_degraded']:.3f}", f"{r['ms_per_image']:.0f}")
    console.print(table)
    console.print(f"{len(meta)} tool outputs on {len(records)} images; PSNR improved in "
                  f"{summary['share_psnr_improved']:.1%} of decided outputs; best by the rule: {best}; "
                  f"default reward: {summary['default_reward']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    if args.dump is not None:
        np.savez_compressed(args.dump, d_psnr=d_psnr, d_ssim=d_ssim, image=img_idx, single=single,
                            tool=np.array([m["tool"] for m in meta]), **raw_scores)
        console.print(f"wrote {args.dump}")
    console.print(f"wrote {args.out}")
    if not args.no_doc:
        write_doc(summary)


def markdown(summary: dict) -> str:
    """The results table for docs/scorers.md."""
    lines = [
        (f"Measured by `python bench/reward_study.py` on {summary['n_images']} degraded test images of the "
         f"builtin dataset × {len(summary['tools'])} embedded tools = {summary['n_tool_outputs']} tool outputs "
         f"(PSNR improved in {summary['share_psnr_improved']:.0%} of the outputs that changed it by ≥ {PSNR_TIE} dB)."),
        "",
        "| scorer | ρ(Δscore, ΔPSNR) | ρ(Δscore, ΔSSIM) | sign agreement | clean > degraded (single / mixed) | ms / image |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in summary["scorers"].items():
        marks = [m for m, hit in (("default reward", name == summary["default_reward"]),
                                  ("best by the rule", name == summary["best_by_rule"])) if hit]
        star = f" ({', '.join(marks)})" if marks else ""
        lines.append(f"| `{name}`{star} | {r['spearman_psnr']:+.3f} | {r['spearman_ssim']:+.3f} | "
                     f"{r['sign_agreement']:.3f} | {r['clean_above_degraded']:.3f} "
                     f"({r['clean_above_degraded_single']:.2f} / {r['clean_above_degraded_mixed']:.2f}) | "
                     f"{r['ms_per_image']:.0f} |")
    degs = sorted({d for r in summary["scorers"].values() for d in r["spearman_psnr_by_degradation"]})
    if degs:
        lines += ["", "ρ(Δscore, ΔPSNR) on the single-degradation records, per degradation:", "",
                  "| scorer | " + " | ".join(degs) + " |", "| --- |" + " --- |" * len(degs)]
        for name, r in summary["scorers"].items():
            by = r["spearman_psnr_by_degradation"]
            lines.append(f"| `{name}` | " + " | ".join(f"{by.get(d, float('nan')):+.2f}" for d in degs) + " |")
    return "\n".join(lines)


def write_doc(summary: dict) -> None:
    text = DOC.read_text() if DOC.exists() else ""
    block = f"{BEGIN}\n{markdown(summary)}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
    console.print(f"updated {DOC}")


if __name__ == "__main__":
    main()
