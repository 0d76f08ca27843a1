"""Linear probe: can a linear read-out of an encoder's embedding tell which degradations an image has?

For each of the 7 degradations, an L2-regularised, class-balanced logistic regression (scipy
L-BFGS, features standardised with the training mean and std; ``--unbalanced`` weights every
image alike) is fitted on the embeddings of the builtin TRAIN
records (``manifest.jsonl`` split train: Setting I combinations; ``single.jsonl`` split train:
each degradation alone; plus the clean training crops, which have none) and scored on the TEST
records (Setting I held out, the unseen settings II–IV, single degradations, clean test crops).
Training and test records come from different photographs; test images are used for nothing
but the reported accuracy (and timing the encoder). The default dataset has 40 training crops (Setting I, and each single
degradation) and 10 test crops per combination: the same 230 test records as ``--per-combo 30``
with the dataset's default 20 training crops, with twice the training data.

    python bench/encoder_probe.py                       # stats encoder, builds a dataset in a temp dir
    python bench/encoder_probe.py --encoder clip --weights DIR --data /tmp/ds

Writes ``bench/results/encoder_probe_<encoder>.json`` (``--out``): the encoder's time per image (median over
20 test images of the best of 5 single-image encodes), per-label test accuracy (target ≥ 0.90),
the balanced accuracy, accuracy per setting and separately on combinations seen in training
(Setting I, single degradations, clean) and unseen ones (Settings II–IV), the positive rate, and a
control in which every combination is seen in training (each test photograph held out in turn,
training on everything else).
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
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore_ray.config import ComponentSettings
from restore_ray.datasets import build_dataset
from restore_ray.imageio import read_image
from restore_ray.manifest import Record, read_manifest
from restore_ray.names import DEGRADATIONS
from tool_actors.base import Encoder
from tool_actors.registry import ENCODERS

console = Console()
TARGET = 0.90


def load_records(data: Path) -> list[Record]:
    """Manifest + single-degradation records, plus one clean record per ground-truth image."""
    records = read_manifest(data / "manifest.jsonl") + read_manifest(data / "single.jsonl")
    clean: dict[str, Record] = {}
    for r in records:
        if r.gt is not None and r.gt not in clean:
            clean[r.gt] = Record(f"clean_{Path(r.gt).stem}", None, (), r.gt, r.gt, _gt_split(r), (), r.root)
    return records + list(clean.values())


def _gt_split(record: Record) -> str:
    # builtin clean ids are "train_…" or "test_…"; a folder dataset follows the record's split
    stem = Path(record.gt or "").stem
    return "train" if stem.startswith("train_") else "test" if stem.startswith("test_") else record.split


def photo_of(record: Record) -> str:
    """The builtin photograph a record was cropped from (the pool cycles through the pictures)."""
    from restore_ray.datasets import TEST_SOURCES, TRAIN_SOURCES

    split, _, index = Path(record.gt or "").stem.partition("_")
    names = list(TRAIN_SOURCES if split == "train" else TEST_SOURCES)
    return names[int(index) % len(names)] if index.isdigit() else "?"


def group_of(record: Record) -> str:
    """The reporting group: 'I'…'IV', 'single' or 'clean'."""
    if not record.degradations:
        return "clean"
    return record.setting or "single"


def embed(records: list[Record], encoder: Encoder, batch: int) -> np.ndarray:
    """Embeddings of every record's degraded image, batched, with a progress bar."""
    out = []
    with Progress(TextColumn(f"[bold]embedding ({encoder.name})"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("embed", total=len(records))
        for i in range(0, len(records), batch):
            chunk = records[i:i + batch]
            images = np.stack([read_image(r.lq_path) for r in chunk])
            out.append(encoder(images))
            bar.advance(task, len(chunk))
    return np.concatenate(out)


def encode_ms(encoder: Encoder, records: list[Record], n: int = 20, repeats: int = 5) -> float:
    """Median over ``n`` test images (any images if there are none) of the best-of-``repeats`` time to
    encode one image alone (ms); the best of several runs discounts other processes on a shared machine."""
    chosen = [r for r in records if r.split == "test"] or records
    images = [read_image(r.lq_path) for r in chosen[:n]]
    encoder(images[0][None])  # warm caches (filter banks, FFT plans)
    best = []
    for img in images:
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            encoder(img[None])
            runs.append(time.perf_counter() - start)
        best.append(min(runs))
    return 1000.0 * float(np.median(best))


def unseen_training_mixtures(records: list[Record], encoder: Encoder, per_combination: int, seed: int,
                             dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and labels of ``per_combination`` clean TRAIN crops under each combination of settings
    II–IV (none when 0): a probe that has seen every mixture, still tested on other photographs."""
    from restore_ray.combos import COMBINATIONS
    from restore_ray.degradations import degrade

    clean = sorted({r.gt_path for r in records if r.split == "train" and r.degradations and r.gt is not None})
    xs, ys = [], []
    for ci, combo in enumerate(COMBINATIONS):
        if combo.setting == "I":
            continue
        for k, path in enumerate(clean[:max(per_combination, 0)]):
            lq, _ = degrade(read_image(path), combo.degradations, np.random.default_rng([seed, 7, ci, k]))
            xs.append(encoder(lq[None])[0])
            ys.append([d in combo.degradations for d in DEGRADATIONS])
    if not xs:
        return np.zeros((0, dim), np.float32), np.zeros((0, len(DEGRADATIONS)))
    return np.stack(xs), np.array(ys, dtype=np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, balanced: bool = True) -> tuple[np.ndarray, float]:
    """Weights and bias minimising the mean logistic loss + l2/2·|w|² (L-BFGS). ``balanced``: positives and
    negatives each carry half of the loss (a label present in 15 % of the training images is not
    decided by its prevalence)."""
    n, d = x.shape
    rate = float(np.clip(y.mean(), 1.0 / n, 1.0 - 1.0 / n))
    weight = np.where(y == 1, 0.5 / rate, 0.5 / (1.0 - rate)) if balanced else np.ones(n)

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        loss = np.mean(weight * (np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * float(w @ w)
        g = weight * (p - y)
        return loss, np.concatenate([x.T @ g / n + l2 * w, [g.mean()]])

    res = minimize(loss_grad, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return res.x[:d], float(res.x[d])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ComponentSettings().encoder
    parser.add_argument("--encoder", default=default, help=f"registered encoder name (default: {default}, the agent's)")
    parser.add_argument("--weights", default=None, help="weights directory for encoders that need one")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path, default=None,
                        help="dataset folder from `restore-ray data build` (default: build one in a temp dir)")
    parser.add_argument("--per-combo", type=int, default=50,
                        help="when building: images per combination (training + test crops)")
    parser.add_argument("--train-per-combo", type=int, default=40,
                        help="when building: training crops per Setting I combination (the rest are test crops)")
    parser.add_argument("--single", type=int, default=40,
                        help="when building: clean images per split in the single-degradation set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--l2", type=float, default=1e-2, help="L2 penalty of the logistic regressions")
    parser.add_argument("--unbalanced", action="store_true",
                        help="weight every training image alike (default: positives and negatives carry equal weight)")
    parser.add_argument("--all-combinations", type=int, default=0, metavar="N",
                        help="also train the probe on N crops of the training photographs under each unseen "
                             "combination (settings II–IV); the test records stay the same")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--out", type=Path, default=None,
                        help="result file (default: bench/results/encoder_probe_<encoder>.json)")
    args = parser.parse_args()
    if args.out is None:
        args.out = ROOT / "bench" / "results" / f"encoder_probe_{args.encoder}.json"

    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="encoder_probe_") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "ds"
            console.print(f"building the builtin dataset (--per-combo {args.per_combo}, --train-per-combo "
                          f"{args.train_per_combo}, --single {args.single}) …")
            build_dataset("builtin", data, per_combo=args.per_combo, seed=args.seed,
                          train_per_combo=args.train_per_combo, single_per_split=args.single)
        records = load_records(data)
        encoder = ENCODERS.build(args.encoder, weights_dir=args.weights, device=args.device)
        t_embed = time.perf_counter()
        emb = embed(records, encoder, args.batch)
        embed_s = time.perf_counter() - t_embed
        image_shape = read_image(records[0].lq_path).shape
        ms_per_image = encode_ms(encoder, records)
        extra_emb, extra_labels = unseen_training_mixtures(records, encoder, args.all_combinations, args.seed,
                                                            emb.shape[1])

    labels = np.array([[d in r.degradations for d in DEGRADATIONS] for r in records], dtype=np.float64)
    train = np.array([r.split == "train" for r in records])
    test = ~train
    train_emb = np.concatenate([emb[train], extra_emb])
    mean, std = train_emb.mean(axis=0), train_emb.std(axis=0) + 1e-6
    z = (emb - mean) / std
    z_train, y_train = (train_emb - mean) / std, np.concatenate([labels[train], extra_labels])
    groups = np.array([group_of(r) for r in records])

    per_label: dict[str, dict[str, float]] = {}
    pred = np.zeros_like(labels)
    for j, name in enumerate(DEGRADATIONS):
        w, b = fit_logistic(z_train, y_train[:, j], args.l2, not args.unbalanced)
        pred[:, j] = (z @ w + b) > 0
        yt, pt = labels[test, j], pred[test, j]
        pos, neg = yt == 1, yt == 0
        per_label[name] = {
            "test_accuracy": float((pt == yt).mean()),
            "train_accuracy": float((pred[train, j] == labels[train, j]).mean()),
            "test_balanced_accuracy": float(0.5 * ((pt[pos] == 1).mean() + (pt[neg] == 0).mean())),
            "test_positive_rate": float(pos.mean()),
        }
    per_group = {g: {name: float((pred[test & (groups == g), j] == labels[test & (groups == g), j]).mean())
                     for j, name in enumerate(DEGRADATIONS)}
                 for g in sorted(set(groups[test]))}
    exact = float((pred[test] == labels[test]).all(axis=1).mean())
    hamming = float((pred[test] == labels[test]).mean())  # the 7 labels' test accuracies averaged
    seen = test & np.isin(groups, ["I", "single", "clean"])  # combinations that occur in training
    unseen = test & np.isin(groups, ["II", "III", "IV"])
    by_seen = {kind: {name: float((pred[m, j] == labels[m, j]).mean()) for j, name in enumerate(DEGRADATIONS)}
               for kind, m in (("seen_combinations", seen), ("unseen_combinations", unseen)) if m.any()}

    # control: every combination seen in training. Hold out one test photograph at a time and train on
    # everything else (the training photographs and all records of the other test photographs).
    photos = np.array([photo_of(r) for r in records])
    holdout: dict[str, dict[str, float]] = {}
    if args.data is None:
        for photo in sorted(set(photos[test])):
            tr, te = photos != photo, photos == photo
            mu, sd = emb[tr].mean(axis=0), emb[tr].std(axis=0) + 1e-6
            zz = (emb - mu) / sd
            holdout[photo] = {}
            for j, name in enumerate(DEGRADATIONS):
                w, b = fit_logistic(zz[tr], labels[tr, j], args.l2, not args.unbalanced)
                holdout[photo][name] = float((((zz[te] @ w + b) > 0) == labels[te, j]).mean())

    table = Table("degradation", "test acc", "balanced", "seen combos", "unseen combos", "train acc", "positives")
    for name, m in per_label.items():
        ok = "green" if m["test_accuracy"] >= TARGET else "red"
        table.add_row(name, f"[{ok}]{m['test_accuracy']:.3f}", f"{m['test_balanced_accuracy']:.3f}",
                      f"{by_seen.get('seen_combinations', {}).get(name, float('nan')):.3f}",
                      f"{by_seen.get('unseen_combinations', {}).get(name, float('nan')):.3f}",
                      f"{m['train_accuracy']:.3f}", f"{m['test_positive_rate']:.2f}")
    console.print(table)
    group_names = sorted(per_group, key=lambda g: (["I", "II", "III", "IV", "single", "clean"] + [g]).index(g))
    by_group = Table("degradation", *[f"{g} (n={int((test & (groups == g)).sum())})" for g in group_names],
                     title="test accuracy per setting")
    for name in DEGRADATIONS:
        by_group.add_row(name, *[f"{per_group[g][name]:.2f}" for g in group_names])
    console.print(by_group)
    console.print(f"mean of the 7 labels' test accuracies: {hamming:.3f} (the target asks ≥ {TARGET} of each: "
                  f"{'met' if all(m['test_accuracy'] >= TARGET for m in per_label.values()) else 'not met'})")
    console.print(f"all 7 labels right: {exact:.3f} of {int(test.sum())} test images; "
                  f"encoding one {image_shape[0]}×{image_shape[1]} image: {ms_per_image:.1f} ms "
                  f"(median of best-of-5 over 20 test images)")

    # an encoder that carries the detector's logits (detect, stats-detect) also answers without a probe:
    # the sign of each degradation's logit (the detector's own threshold, nothing fitted here)
    entry = ENCODERS.get(args.encoder)
    names = entry.extra.get("features") or [f"detect:{d}" for d in entry.extra.get("labels", [])]
    own: dict[str, dict[str, float]] = {}
    if all(f"detect:{d}" in names for d in DEGRADATIONS):
        cols = [names.index(f"detect:{d}") for d in DEGRADATIONS]
        sign = emb[:, cols] > 0
        own = {g: {d: float((sign[m, j] == labels[m, j]).mean()) for j, d in enumerate(DEGRADATIONS)}
               for g, m in [("all", test)] + [(g, test & (groups == g)) for g in group_names]}
        console.print("detector's own threshold (logit > 0), test accuracy: " +
                      ", ".join(f"{d} {v:.3f}" for d, v in own["all"].items()))

    result = {
        "encoder": args.encoder,
        "dim": int(emb.shape[1]),
        "probe": (f"per-label logistic regression, L2 {args.l2}, standardised features, "
                  f"{'unweighted' if args.unbalanced else 'class-balanced'}"),
        "data": {"source": "builtin" if args.data is None else str(args.data), "per_combo": args.per_combo,
                 "train_per_combo": args.train_per_combo, "single_per_split": args.single, "seed": args.seed,
                 "n_train": int(train.sum()) + len(extra_labels),
                 "unseen_combinations_in_training": args.all_combinations,
                 "n_test": int(test.sum()),
                 "train_groups": {g: int((train & (groups == g)).sum()) for g in sorted(set(groups[train]))},
                 "test_groups": {g: int((test & (groups == g)).sum()) for g in sorted(set(groups[test]))}},
        "target_accuracy": TARGET,
        "passed": all(m["test_accuracy"] >= TARGET for m in per_label.values()),  # every label, not their mean
        "test_mean_per_label_accuracy": hamming,
        "per_label": per_label,
        "per_group_accuracy": per_group,
        "accuracy_by_combination_novelty": by_seen,
        "photo_holdout_all_combinations_seen": holdout,
        "test_exact_match": exact,
        "detector_own_threshold_accuracy": own,
        "embed_ms_per_image": 1000 * embed_s / len(records),
        "encode_ms_per_image": {"ms": ms_per_image, "image": f"{image_shape[0]}x{image_shape[1]}",
                                "how": "median over 20 test images of the best of 5 single-image encodes"},
        "seconds": time.perf_counter() - t0,
        "machine": platform.platform(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
