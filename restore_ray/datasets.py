"""Building the benchmark: clean images → degraded images + ground truth + ``manifest.jsonl``.

Two sources of clean images:

* ``builtin``: the natural photographs shipped inside scikit-image, so nothing is downloaded.
  The photographs are split by picture, never by crop, so no test image shares content with a
  training image: training crops come from ``TRAIN_SOURCES`` (four colour and six greyscale
  photographs, cycled in that order), test crops from ``TEST_SOURCES`` (two colour photographs).
  Each clean image is a random square crop (side drawn between ``size`` and the picture's
  shorter side, area-downscaled to ``size``), randomly mirrored.
* a folder of clean images (e.g. MiO100): every image is used for every combination, as in the
  paper; image ``i`` (sorted by name) is a training image when ``i % 10`` is 1 or 2 (AgenticIR's
  rule: 20 of 100), up to ``train_per_combo``.

Protocol (the paper's): Setting I gives ``train_per_combo`` (20) training images per combination,
the rest of Setting I and all of Settings II–IV are test images. For ``builtin`` the unseen
settings II–IV use only the test-source crops. A single-degradation set (each degradation alone,
on the same clean images) is written to ``single.jsonl`` for per-tool checks.

Every record has its own random stream derived from ``(seed, combination, image)``, so the same
seed gives byte-identical files whatever the order of work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from restore_ray.combos import COMBINATIONS
from restore_ray.degradations import degrade
from restore_ray.imageio import list_images, read_image, write_image
from restore_ray.manifest import Record, write_manifest
from restore_ray.names import DEGRADATIONS


def _motorcycle(view: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return data.stereo_motorcycle()[view]

    return load


def _grey(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return np.repeat(getattr(data, name)()[..., None], 3, axis=2)

    return load


def _rgb(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()

    return load


# Natural photographs that scikit-image ships in its wheel (no download), split by picture.
TRAIN_SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _rgb("astronaut"),
    "rocket": _rgb("rocket"),
    "motorcycle": _motorcycle(0),
    "camera": _grey("camera"),
    "motorcycle-right": _motorcycle(1),
    "brick": _grey("brick"),
    "grass": _grey("grass"),
    "gravel": _grey("gravel"),
    "coins": _grey("coins"),
    "moon": _grey("moon"),
}
TEST_SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "coffee": _rgb("coffee"),
    "chelsea": _rgb("chelsea"),
}


def _site_packages(package: str) -> Path:
    """The folder holding an installed ``package`` (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"package {package!r} is not installed; run `pip install -e .` in the checkout")
    return Path(spec.origin).resolve().parents[1]


def _package_file(package: str, relative: str, short_side: int = 512) -> Callable[[], np.ndarray]:
    """A loader of a photograph an installed package ships, area-downscaled to at most ``short_side``
    pixels on its shorter side (the scale of the scikit-image photographs; it also averages away
    the compression of the JPEG files)."""
    def load() -> np.ndarray:
        path = _site_packages(package) / relative
        if not path.is_file():
            raise FileNotFoundError(f"{path}: a photograph the pinned {package} wheel ships is missing; "
                                    f"reinstall the pinned version (pip install -e . --force-reinstall "
                                    f"--no-deps {package}) or train with --data builtin or a folder")
        image = read_image(path)
        scale = short_side / min(image.shape[:2])
        if scale < 1:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return image

    return load


# More clean colour photographs for training the learned models (never part of the benchmark, never
# evaluated on): files other pinned dependencies install beside their code. pyiqa 0.1.16's wheel
# carries five Kodak photographs (the TID2013 reference images I03, I04, I06, I08, I19, 512 × 384)
# and three video frames of its speed test (its fourth test photograph, a dark noisy night shot, is
# not clean and is left out); matplotlib ships the portrait of Grace Hopper.
PACKAGE_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    **{f"kodak-{n}": _package_file("pyiqa", f"ResultsCalibra/ref_dir/{n}.bmp")
       for n in ("I03", "I04", "I06", "I08", "I19")},
    **{f"frame-{k}": _package_file("pyiqa", f"tests/test_efficiency_img_dir/frame_{n}.jpg")
       for k, n in enumerate(("4wrwr48cdk6rbcjl", "7gzdcz9sif0ekg31", "9ogwhvvy7gfj6jzh"))},
    "grace-hopper": _package_file("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
}


@dataclass(frozen=True)
class CleanImage:
    """A clean image of the pool: its id, the split it serves and the pixels."""

    id: str
    split: str
    image: np.ndarray
    origin: str


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop, area-resized to ``size`` × ``size``, mirrored with probability 1/2."""
    h, w = image.shape[:2]
    short = min(h, w)
    side = int(rng.integers(min(size, short), short + 1))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = image[y:y + side, x:x + side]
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (size, size), interpolation=interp)
    if rng.uniform() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def builtin_crops(split: str, count: int, size: int, seed: int) -> list[np.ndarray]:
    """``count`` clean crops of the ``split`` photographs, cycling through the pictures."""
    sources = TRAIN_SOURCES if split == "train" else TEST_SOURCES
    pictures = [load() for load in sources.values()]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, 0 if split == "train" else 1]))
    return [random_crop(pictures[i % len(pictures)], size, rng) for i in range(count)]


def builtin_pool(per_combo: int, train_per_combo: int, size: int, seed: int) -> list[CleanImage]:
    """The builtin clean pool: ``train_per_combo`` training crops, then the test crops."""
    if per_combo <= train_per_combo:
        raise ValueError(f"--per-combo ({per_combo}) must exceed the training images per combination "
                         f"({train_per_combo}) so that Setting I keeps test images")
    n_test = per_combo - train_per_combo
    names = {"train": list(TRAIN_SOURCES), "test": list(TEST_SOURCES)}
    pool = []
    for split, n in (("train", train_per_combo), ("test", n_test)):
        for i, crop in enumerate(builtin_crops(split, n, size, seed)):
            pool.append(CleanImage(f"{split}_{i:04d}", split, crop, names[split][i % len(names[split])]))
    return pool


def folder_pool(folder: Path, per_combo: int | None, train_per_combo: int, size: int | None) -> list[CleanImage]:
    """Clean images from a folder; ``size`` (optional) caps the longer side by area downscaling."""
    paths = list_images(folder)
    if per_combo is not None:
        paths = paths[:per_combo]
    if not paths:
        raise ValueError(f"{folder}: no images found (looked for the usual suffixes)")
    pool, n_train = [], 0
    for i, path in enumerate(paths):
        img = read_image(path)
        if size is not None and max(img.shape[:2]) > size:
            scale = size / max(img.shape[:2])
            new = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
            img = cv2.resize(img, new, interpolation=cv2.INTER_AREA)
        split = "train" if i % 10 in (1, 2) and n_train < train_per_combo else "test"
        n_train += split == "train"
        pool.append(CleanImage(f"{i:04d}_{path.stem}"[:80], split, img, path.name))
    return pool


@dataclass
class BuildSummary:
    """What ``build_dataset`` wrote."""

    out: Path
    manifest: Path
    single: Path | None
    n_records: int
    n_single: int
    n_train: int
    seconds: float


def build_dataset(clean: str | Path, out: str | Path, per_combo: int | None = None, seed: int = 0,
                  size: int | None = None, train_per_combo: int = 20, single_per_split: int = 10,
                  progress: Callable[[int, int], None] | None = None) -> BuildSummary:
    """Write ``out/manifest.jsonl`` (settings I–IV), ``out/single.jsonl`` and the PNGs they name.

    ``clean`` is ``"builtin"`` or a folder. ``single_per_split`` clean images of each split get
    each degradation alone (0 disables the single-degradation set).
    """
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if str(clean) == "builtin":
        pool = builtin_pool(100 if per_combo is None else per_combo, train_per_combo,
                            256 if size is None else size, seed)
        builtin = True
    else:
        pool = folder_pool(Path(clean), per_combo, train_per_combo, size)
        builtin = False

    gt_rel = {}
    for c in pool:
        gt_rel[c.id] = f"gt/{c.id}.png"
        write_image(out / gt_rel[c.id], c.image)

    # (kind, setting, degradations, key, clean image, split of the record)
    jobs: list[tuple[str, str | None, tuple[str, ...], int, CleanImage, str]] = []
    for ci, combo in enumerate(COMBINATIONS):
        for c in pool:
            if combo.setting == "I":
                jobs.append(("combo", "I", combo.degradations, ci, c, c.split))
            elif not (builtin and c.split == "train"):  # builtin unseen settings: test pictures only
                jobs.append(("combo", combo.setting, combo.degradations, ci, c, "test"))
    if single_per_split > 0:
        for di, name in enumerate(DEGRADATIONS):
            for split in ("train", "test"):
                chosen = [c for c in pool if c.split == split][:single_per_split]
                jobs.extend(("single", None, (name,), 100 + di, c, split) for c in chosen)

    records: dict[str, list[Record]] = {"combo": [], "single": []}
    for done, (kind, setting, names, key, c, split) in enumerate(jobs, start=1):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1, key, hash_id(c.id)]))
        lq, params = degrade(c.image, names, rng)
        slug = "-".join(names)
        folder = f"lq/{setting}/{slug}" if kind == "combo" else f"single/{slug}"
        rec_id = f"{setting}_{slug}_{c.id}" if kind == "combo" else f"single_{slug}_{c.id}"
        lq_rel = f"{folder}/{c.id}.png"
        write_image(out / lq_rel, lq)
        records[kind].append(Record(rec_id, setting, names, lq_rel, gt_rel[c.id], split, tuple(params), out))
        if progress is not None:
            progress(done, len(jobs))

    manifest = write_manifest(out / "manifest.jsonl", records["combo"])
    single = write_manifest(out / "single.jsonl", records["single"]) if records["single"] else None
    n_train = sum(r.split == "train" for r in records["combo"])
    return BuildSummary(out, manifest, single, len(records["combo"]), len(records["single"]), n_train,
                        time.perf_counter() - t0)


def hash_id(text: str) -> int:
    """A stable 32-bit integer for a string id (Python's ``hash`` is salted per process)."""
    import zlib

    return zlib.crc32(text.encode("utf-8"))
