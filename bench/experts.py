"""Learned deblurring experts against the classical tools of their category, on the builtin test images.

For every learned expert of a blur category that can run here (shipped, or trained into
``WEIGHTS/learned/`` by ``restore-ray tools train CATEGORY``) and every classical tool of the same
category: mean ΔPSNR on the single-degradation test records of that degradation, mean ΔPSNR on
Gaussian blur (σ 1, 2, 3) of the same clean test images — a kernel the classical estimators do not
model — the share of images improved, and the median time per 512×512 blurred image (one thread,
``bench/tools.py``'s timing).

    python bench/experts.py --weights WEIGHTS                 # builds the builtin dataset (per-combo 30)
    python bench/experts.py --weights WEIGHTS --data DS

Writes ``bench/results/experts.json``.
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
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tools import time_per_image
from restore_ray.datasets import build_dataset
from restore_ray.imageio import read_image
from restore_ray.manifest import read_manifest
from restore_ray.names import CATEGORY_TO_DEGRADATION
from tool_actors.learned.train_expert import EXPERT_NAMES
from tool_actors.metrics import psnr
from tool_actors.registry import TOOLS

console = Console()
GAUSSIAN_SIGMAS = (1.0, 2.0, 3.0)
BLUR_CATEGORIES = ("deblur_defocus", "deblur_motion")


def gain(tool, degraded: np.ndarray, clean: np.ndarray) -> float:
    out = tool(degraded[None])[0]
    return psnr(clean, out) - psnr(clean, degraded)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=None, help="weights folder holding learned/NAME.safetensors")
    ap.add_argument("--data", type=Path, default=None, help="dataset folder with single.jsonl (built if absent)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per tool (median is reported)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "experts.json")
    args = ap.parse_args(argv)

    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    data = args.data
    if data is None or not (data / "single.jsonl").exists():
        data = data or Path(tempfile.mkdtemp(prefix="restore-ray-experts-"))
        console.print(f"building the builtin dataset in {data} …")
        build_dataset("builtin", data, per_combo=30, single_per_split=10)
    records = [r for r in read_manifest(data / "single.jsonl") if r.split == "test" and r.gt is not None]

    results: dict[str, dict] = {}
    for category in BLUR_CATEGORIES:
        expert = EXPERT_NAMES[category]
        ok, reason = TOOLS.get(expert).availability(args.weights)
        if not ok:
            console.print(f"[yellow]{expert}: not measured ({reason})")
            continue
        names = [expert] + [e.name for e in TOOLS.entries()
                            if e.category == category and e.backend == "classical" and e.availability()[0]]
        tools = {n: TOOLS.build(n, weights_dir=args.weights) for n in names}
        degradation = CATEGORY_TO_DEGRADATION[category]
        pairs = [(read_image(r.lq_path), read_image(r.gt_path)) for r in records
                 if list(r.degradations) == [degradation]]
        gaussian = [(cv2.GaussianBlur(gt, (0, 0), s), gt) for _, gt in pairs for s in GAUSSIAN_SIGMAS]
        rows = {}
        for n, tool in tools.items():
            single = [gain(tool, lq, gt) for lq, gt in pairs]
            gauss = [gain(tool, b, gt) for b, gt in gaussian]
            rows[n] = {"single_d_psnr": float(np.mean(single)), "single_improved": float(np.mean(np.array(single) > 0)),
                       "gaussian_d_psnr": float(np.mean(gauss)), "gaussian_improved": float(np.mean(np.array(gauss) > 0)),
                       "ms_per_512": 1000 * time_per_image(tool, pairs[0][0], args.repeats), "n_single": len(single), "n_gaussian": len(gauss)}
        results[expert] = {"category": category, "degradation": degradation, "weights": str(tools[expert].weights_path),
                           "tools": rows}
        table = Table(f"{expert} vs {category}", f"ΔPSNR {degradation}", "improved", "ΔPSNR Gaussian", "improved",
                      "ms/512²")
        for n, row in rows.items():
            table.add_row(n, f"{row['single_d_psnr']:+.2f}", f"{row['single_improved']:.0%}",
                          f"{row['gaussian_d_psnr']:+.2f}", f"{row['gaussian_improved']:.0%}", f"{row['ms_per_512']:.0f}")
        console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"data": str(data), "gaussian_sigmas": GAUSSIAN_SIGMAS, "threads": 1,
                                    "machine": platform.machine(), "python": platform.python_version(),
                                    "experts": results}, indent=2) + "\n")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
