"""Benchmark every available embedded tool on the single-degradation test records of its category.

For each tool: mean ΔPSNR and ΔSSIM (output vs. input, both against the clean image), the
fraction of images it improves (ΔPSNR > 0), and the median wall time per 512×512 image (one
thread). Writes ``bench/results/tools.json`` and prints the best tool per category against the
targets below.

    python bench/tools.py                      # builds a builtin dataset in a temp folder
    python bench/tools.py --data /tmp/ds --limit 5
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore_ray.imageio import read_image
from restore_ray.manifest import Record, read_manifest
from restore_ray.names import CATEGORIES, CATEGORY_TO_DEGRADATION
from tool_actors.registry import TOOLS

# Mean ΔPSNR (dB) the best tool of each category should reach on its degradation.
TARGETS_DB: dict[str, float] = {
    "brighten": 4.0, "denoise": 5.0, "dehaze": 3.0, "derain": 2.0,
    "dejpeg": 0.7, "deblur_motion": 0.7, "deblur_defocus": 0.7,
}
TIMING_SIDE = 512

console = Console()


def psnr(x: np.ndarray, ref: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(ref, x, data_range=255))


def ssim(x: np.ndarray, ref: np.ndarray) -> float:
    return float(structural_similarity(ref, x, channel_axis=2, data_range=255))


def test_records(data: Path | None, limit: int | None) -> tuple[dict[str, list[Record]], Path]:
    """Single-degradation test records per degradation, from ``data`` or a freshly built dataset."""
    if data is None or not (data / "single.jsonl").exists():
        from restore_ray.datasets import build_dataset

        target = data or Path(tempfile.mkdtemp(prefix="restore-ray-bench-"))
        console.print(f"building a builtin dataset in {target} …")
        build_dataset("builtin", target, per_combo=30, single_per_split=10)  # 10 test images per degradation
        data = target
    by_degradation: dict[str, list[Record]] = {}
    for rec in read_manifest(data / "single.jsonl"):
        if rec.split == "test" and len(rec.degradations) == 1 and rec.gt is not None:
            by_degradation.setdefault(rec.degradations[0], []).append(rec)
    if limit is not None:
        by_degradation = {k: v[:limit] for k, v in by_degradation.items()}
    return by_degradation, data


def time_per_image(tool, image: np.ndarray, repeats: int) -> float:
    """Median seconds for one ``TIMING_SIDE``² image (after one warm-up call).

    The image is the degraded test image tiled (not resized) up to the size, so its blur, noise
    and JPEG block grid stay what the tool is meant to handle and no estimator takes a shortcut.
    """
    reps = (-(-TIMING_SIDE // image.shape[0]), -(-TIMING_SIDE // image.shape[1]), 1)
    big = np.ascontiguousarray(np.tile(image, reps)[:TIMING_SIDE, :TIMING_SIDE])[None]
    tool(big)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tool(big)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="dataset folder with single.jsonl (built if absent)")
    ap.add_argument("--limit", type=int, default=None, help="at most this many test images per degradation")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per tool (median is reported)")
    ap.add_argument("--weights", type=Path, default=None, help="weights directory for tools that need one")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tools.json")
    args = ap.parse_args(argv)

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    records, data = test_records(args.data, args.limit)
    entries = [e for e in TOOLS.entries() if e.embedded and e.category in CATEGORIES]
    skipped = {}
    for e in entries:
        ok, reason = e.availability(args.weights)
        if not ok:
            skipped[e.name] = reason
    entries = [e for e in entries if e.name not in skipped]
    images = {d: [(read_image(r.lq_path), read_image(r.gt_path)) for r in recs] for d, recs in records.items()}

    results = []
    total = sum(len(images.get(CATEGORY_TO_DEGRADATION[e.category], [])) for e in entries)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("tools", total=total)
        for e in entries:
            degradation = CATEGORY_TO_DEGRADATION[e.category]
            pairs = images.get(degradation, [])
            if not pairs:
                skipped[e.name] = f"no {degradation} test records in {data}"
                continue
            bar.update(task, description=e.name)
            tool = TOOLS.build(e.name, weights_dir=args.weights)
            d_psnr, d_ssim = [], []
            for lq, gt in pairs:
                out = tool(lq[None])[0]
                d_psnr.append(psnr(out, gt) - psnr(lq, gt))
                d_ssim.append(ssim(out, gt) - ssim(lq, gt))
                bar.advance(task)
            seconds = time_per_image(tool, pairs[0][0], args.repeats)
            results.append({
                "name": e.name, "category": e.category, "backend": e.backend, "degradation": degradation,
                "n": len(pairs), "d_psnr": float(np.mean(d_psnr)), "d_ssim": float(np.mean(d_ssim)),
                "improved": float(np.mean(np.array(d_psnr) > 0)), "min_d_psnr": float(np.min(d_psnr)),
                "ms_per_512": 1000.0 * seconds, "description": e.description,
            })

    best = {}
    for cat in CATEGORIES:
        rows = [r for r in results if r["category"] == cat]
        if rows:
            top = max(rows, key=lambda r: r["d_psnr"])
            best[cat] = {"name": top["name"], "d_psnr": top["d_psnr"], "target": TARGETS_DB[cat],
                         "meets_target": top["d_psnr"] >= TARGETS_DB[cat]}

    table = Table("tool", "category", "ΔPSNR dB", "ΔSSIM", "improved", "ms/512²")
    for r in results:
        table.add_row(r["name"], r["category"], f"{r['d_psnr']:+.2f}", f"{r['d_ssim']:+.3f}",
                      f"{r['improved']:.0%}", f"{r['ms_per_512']:.0f}")
    console.print(table)
    summary = Table("category", "best tool", "ΔPSNR dB", "target", "")
    for cat, b in best.items():
        summary.add_row(cat, b["name"], f"{b['d_psnr']:+.2f}", f"≥ {b['target']:+.1f}",
                        "[green]met[/green]" if b["meets_target"] else "[red]missed[/red]")
    console.print(summary)
    for name, reason in skipped.items():
        console.print(f"skipped {name}: {reason}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "data": str(data), "split": "test", "limit": args.limit, "timing_side": TIMING_SIDE,
        "threads": 1, "machine": platform.machine(), "python": platform.python_version(),
        "tools": results, "best": best, "skipped": skipped,
    }, indent=2, ensure_ascii=False) + "\n")
    console.print(f"wrote {args.out}")
    return 0 if all(b["meets_target"] for b in best.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
