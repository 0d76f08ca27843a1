"""Measure ``nr-combo``'s z-score constants and write ``data/nr_combo.json``.

    python -m tool_actors.scorers.combo_calibrate [--per-combo 30] [--seed 0]

Scores the builtin dataset's training images (Setting I training records, single-degradation
training records and the clean training crops) with each component and stores the mean and
standard deviation of the higher-is-better (negated) scores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from tool_actors.registry import SCORERS
from tool_actors.scorers.combined import COMPONENTS, CONSTANTS_FILE


def calibrate(per_combo: int = 30, seed: int = 0) -> dict[str, dict[str, float]]:
    """Mean and std of each negated component on the builtin training images (clean and degraded)."""
    from restore_ray.datasets import build_dataset
    from restore_ray.imageio import read_image
    from restore_ray.manifest import read_manifest

    with tempfile.TemporaryDirectory(prefix="nr_combo_") as tmp:
        summary = build_dataset("builtin", Path(tmp), per_combo=per_combo, seed=seed, single_per_split=20)
        records = read_manifest(summary.manifest) + read_manifest(summary.single)
        train = [r for r in records if r.split == "train"]
        paths = [r.lq_path for r in train] + sorted({r.gt_path for r in train if r.gt_path is not None})
        images = np.stack([read_image(p) for p in paths])
    out = {}
    for name in COMPONENTS:
        scorer = SCORERS.build(name)
        raw = np.concatenate([scorer(images[i:i + 16]) for i in range(0, len(images), 16)])
        signed = raw if scorer.higher_is_better else -raw
        out[name] = {"mean": round(float(signed.mean()), 6), "std": round(float(signed.std()), 6)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="measure nr-combo's z-score constants on the builtin dataset")
    parser.add_argument("--per-combo", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data" / CONSTANTS_FILE)
    args = parser.parse_args()
    comps = calibrate(args.per_combo, args.seed)
    args.out.write_text(json.dumps({
        "components": comps,
        "source": f"builtin dataset, training images (clean + degraded), per_combo {args.per_combo}, seed {args.seed}",
    }, indent=1) + "\n")
    print(f"wrote {args.out}: {comps}")


if __name__ == "__main__":
    main()
