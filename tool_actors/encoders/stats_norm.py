"""Measure the ``stats`` encoder's standardisation constants and write ``data/stats_norm.json``.

    python -m tool_actors.encoders.stats_norm [--train-per-combo 40] [--single 40] [--seed 0]

Builds the builtin dataset in a temp dir and takes the training images only (Setting I training
records, the single-degradation training records and the clean training crops, all cropped from
the training photographs), so no test photograph informs the constants. Centre = median, scale =
IQR / 1.349 (the σ of a normal with that IQR), falling back to the standard deviation, then to 1,
for features that are constant on most images (e.g. clipping fractions). The encoder squashes
the standardised values afterwards (``stats.squash``), so no constant here bounds anything.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from tool_actors.encoders.stats_features import FEATURE_NAMES, image_features

OUT = Path(__file__).resolve().parent / "data" / "stats_norm.json"


def training_images(train_per_combo: int, single: int, seed: int) -> list[np.ndarray]:
    """Degraded and clean training images of the builtin dataset."""
    from restore_ray.datasets import build_dataset
    from restore_ray.imageio import read_image
    from restore_ray.manifest import read_manifest

    with tempfile.TemporaryDirectory(prefix="stats_norm_") as tmp:
        # per_combo only adds test crops (10 per combination), which are dropped below
        summary = build_dataset("builtin", Path(tmp), per_combo=train_per_combo + 10, seed=seed,
                                train_per_combo=train_per_combo, single_per_split=single)
        records = read_manifest(summary.manifest) + read_manifest(summary.single)
        train = [r for r in records if r.split == "train"]
        gts = sorted({r.gt_path for r in train if r.gt_path is not None})
        return [read_image(r.lq_path) for r in train] + [read_image(p) for p in gts]


def constants(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust (centre, scale) per column."""
    centre = np.median(features, axis=0)
    q75, q25 = np.percentile(features, [75, 25], axis=0)
    scale = (q75 - q25) / 1.349
    std = features.std(axis=0)
    scale = np.where(scale > 1e-6, scale, np.where(std > 1e-6, std, 1.0))
    return centre, scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-per-combo", type=int, default=40, help="training images per Setting I combination")
    parser.add_argument("--single", type=int, default=40, help="training images per single degradation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)
    images = training_images(args.train_per_combo, args.single, args.seed)
    feats = np.stack([image_features(img) for img in images]).astype(np.float64)
    centre, scale = constants(feats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "features": list(FEATURE_NAMES),
        "centre": [round(float(c), 6) for c in centre],
        "scale": [round(float(s), 6) for s in scale],
        "n_images": len(images),
        "source": (f"builtin dataset, training images only (train_per_combo {args.train_per_combo}, "
                   f"single_per_split {args.single}, seed {args.seed})"),
    }, indent=1) + "\n")
    print(f"wrote {args.out} from {len(images)} images")


if __name__ == "__main__":
    main()
