"""Training data, made on the fly from clean photographs: patches, judge groups, expert pairs,
detector samples.

Clean pictures come from the builtin TRAIN photographs (``restore_ray.datasets.TRAIN_SOURCES``),
from those and the nine clean photographs that pinned dependencies ship (``builtin+photos``,
``restore_ray.datasets.PACKAGE_PHOTOS``), or from a folder the user names; the builtin TEST
photographs are never read here. A patch is a
random square region of side ``patch · f`` (f ∈ [1, 2]) area-resized to ``patch``, randomly
mirrored and rotated by multiples of 90°, so the scale matches the builtin benchmark's crops
(256-pixel crops of regions 256–512 pixels wide). With only four builtin pictures, colours are
varied too (``colour_augment``): the RGB channels are permuted, sometimes blended with a second
permutation, sometimes turned grey — new palettes on the same clean structure, so a network learns
what distortions look like rather than what the training pictures look like. Colour pictures are
drawn 1.5 times as often as greyscale ones (the builtin set has more greyscale textures).

A *judge group* is one clean patch and a dozen distorted versions of it — degradation chains,
quick classical remedies, outputs of the project's registered tools (``toolbox``), over-processed
versions — with the pairs whose order is known: the clean patch above every distorted version, a lighter over-processing above a
heavier one, a lighter degradation above a heavier one of the same kind and shape, fewer
degradations above more (a chain above its extension, a chain with one degradation removed above
the chain) unless PSNR and SSIM both measure the opposite (motion blur after noise averages the
noise away), and, for every other pair, the order of a full-reference quality level when PSNR
and SSIM agree. No human label is involved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from restore_ray import degradations as D
from restore_ray.datasets import PACKAGE_PHOTOS, TRAIN_SOURCES
from restore_ray.imageio import list_images, read_image
from restore_ray.names import CATEGORY_TO_DEGRADATION, DEGRADATIONS
from tool_actors.learned import distortions as X
from tool_actors.learned.toolbox import ToolboxTool

Image = np.ndarray  # uint8 (H, W, 3)

BUILTIN = "builtin"
WITH_PHOTOS = "builtin+photos"  # the builtin TRAIN photographs and the dependencies' photographs


def named_sources(name: str) -> dict | None:
    """The picture loaders of a named source (``builtin``, ``builtin+photos``); None for a folder."""
    return {BUILTIN: TRAIN_SOURCES, WITH_PHOTOS: {**TRAIN_SOURCES, **PACKAGE_PHOTOS}}.get(name)


# --------------------------------------------------------------------------------- clean patches
class CleanPatches:
    """Random clean training patches from the builtin TRAIN photographs or a folder of images."""

    def __init__(self, data: str | Path = BUILTIN, patch: int = 96, max_zoom_out: float = 2.0,
                 colour_augment: bool = True) -> None:
        if patch < 16:
            raise ValueError(f"patch size must be at least 16 pixels, got {patch}")
        self.patch = int(patch)
        self.max_zoom_out = float(max_zoom_out)
        self.colour_augment = bool(colour_augment)
        self.source = str(data)
        sources = named_sources(self.source)
        if sources is not None:
            self.names = list(sources)
            self.pictures = [np.ascontiguousarray(load()) for load in sources.values()]
        else:
            folder = Path(data)
            if not folder.is_dir():
                raise ValueError(f"--data {folder}: not a folder; pass a folder of clean images, "
                                 f"'{BUILTIN}' or '{WITH_PHOTOS}'")
            paths = list_images(folder)
            if not paths:
                raise ValueError(f"--data {folder}: no images found (png, jpg, bmp, tif, webp, …)")
            self.names = [p.name for p in paths]
            self.pictures = [read_image(p) for p in paths]
        small = [n for n, p in zip(self.names, self.pictures) if min(p.shape[:2]) < self.patch]
        if small:
            raise ValueError(f"images smaller than the {self.patch}-pixel patch: {', '.join(small[:5])}"
                             f"{' …' if len(small) > 5 else ''}; use a smaller --patch or remove them")
        weights = np.array([1.5 if _is_colour(p) else 1.0 for p in self.pictures])
        self.weights = weights / weights.sum()

    def sample(self, rng: np.random.Generator) -> Image:
        """One random patch, uint8 (patch, patch, 3)."""
        pic = self.pictures[int(rng.choice(len(self.pictures), p=self.weights))]
        h, w = pic.shape[:2]
        side = round(self.patch * rng.uniform(1.0, self.max_zoom_out))
        side = min(side, h, w)
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = pic[y:y + side, x:x + side]
        if side != self.patch:
            crop = cv2.resize(crop, (self.patch, self.patch), interpolation=cv2.INTER_AREA)
        if rng.uniform() < 0.5:
            crop = crop[:, ::-1]
        crop = np.ascontiguousarray(np.rot90(crop, int(rng.integers(0, 4))))
        return recolour(crop, rng) if self.colour_augment else crop

    def describe(self) -> dict:
        """What the patches come from (for the JSON card)."""
        named = named_sources(self.source) is not None
        return {"source": self.source if named else str(Path(self.source).resolve()),
                "pictures": self.names, "patch": self.patch, "max_zoom_out": self.max_zoom_out,
                "colour_augment": self.colour_augment}


def _is_colour(picture: Image) -> bool:
    """Whether a picture has colour (greyscale pictures stored as RGB have equal channels)."""
    return bool(np.any(picture[..., 0] != picture[..., 1]) or np.any(picture[..., 1] != picture[..., 2]))


_PERMUTATIONS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def recolour(image: Image, rng: np.random.Generator) -> Image:
    """A new palette for a clean patch: permuted channels (30 %: blended with a second permutation),
    grey in 10 % of the draws. Structure, sharpness and noise level stay those of the clean patch."""
    u = rng.uniform()
    if u < 0.1:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    first = image[..., _PERMUTATIONS[int(rng.integers(0, 6))]]
    if u < 0.4:
        second = image[..., _PERMUTATIONS[int(rng.integers(0, 6))]]
        a = float(rng.uniform(0.0, 1.0))
        first = np.clip(np.rint(a * first.astype(np.float32) + (1.0 - a) * second.astype(np.float32)), 0, 255)
        return first.astype(np.uint8)
    return np.ascontiguousarray(first)


# ------------------------------------------------------------------------------- quality levels
def fr_level(psnr: float, ssim: float, psnr_weight: float = 0.5) -> float:
    """The synthetic quality level in [1, 5]: 1 + 4·((1 − w)·SSIM + w·clip((PSNR − 10)/30, 0, 1)), w = ``psnr_weight``."""
    if not 0.0 <= psnr_weight <= 1.0:
        raise ValueError(f"psnr_weight must lie in [0, 1], got {psnr_weight}")
    p = 1.0 if math.isinf(psnr) else float(np.clip((psnr - 10.0) / 30.0, 0.0, 1.0))
    return 1.0 + 4.0 * ((1.0 - psnr_weight) * float(np.clip(ssim, 0.0, 1.0)) + psnr_weight * p)


# ---------------------------------------------------------------------------------- judge groups
@dataclass
class JudgeGroup:
    """Versions of one clean patch; ``pairs`` (better, worse, structural) index ``images``."""

    images: list[Image] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    level: list[float] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    pairs: list[tuple[int, int, bool]] = field(default_factory=list)
    psnr_weight: float = 0.5  # share of PSNR in the level (``fr_level``)

    def add(self, image: Image, clean: Image, tag: str) -> int:
        p, s = X.psnr(clean, image), X.ssim(clean, image)
        self.images.append(image)
        self.psnr.append(p)
        self.ssim.append(s)
        self.level.append(fr_level(p, s, self.psnr_weight))
        self.tags.append(tag)
        return len(self.images) - 1


def _severity(rng: np.random.Generator) -> float:
    """Mostly the paper's strengths (severity ≥ 0.4), sometimes lighter."""
    return float(rng.uniform(0.4, 1.0) if rng.uniform() < 0.65 else rng.uniform(0.02, 0.4))


def _chain(clean: Image, steps: list[tuple[str, float, int]]) -> Image:
    out = clean
    for name, sev, seed in steps:
        out = X.graded_degradation(name, out, sev, seed)
    return out


def _remedy(rng: np.random.Generator, image: Image, steps: list[tuple[str, float, int]]) -> tuple[Image, str]:
    """A restoration attempt on ``image``: targeted at one of its degradations, or any remedy."""
    if rng.uniform() < 0.6:
        name, sev, seed = steps[int(rng.integers(0, len(steps)))]
        if name in ("motion_blur", "defocus_blur") and rng.uniform() < 0.4:
            params = X.graded_params(name, sev, seed)
            return X.true_kernel_wiener(name, params, image, float(rng.uniform(0.001, 0.03))), f"wiener_true:{name}"
        kind = X.TARGETED[name][int(rng.integers(0, len(X.TARGETED[name])))]
    else:
        kind = X.REMEDIES[int(rng.integers(0, len(X.REMEDIES)))]
    return X.remedy(kind, image, rng), f"remedy:{kind}"


def _pick_tool(rng: np.random.Generator, toolbox: Sequence[ToolboxTool], present: list[str]) -> ToolboxTool:
    """A tool aimed at one of the ``present`` degradations (60 %), else any tool."""
    aimed = [t for t in toolbox if t.degradation in present]
    pool = aimed if aimed and rng.uniform() < 0.6 else list(toolbox)
    return pool[int(rng.integers(0, len(pool)))]


def soft_reference(clean: Image, rng: np.random.Generator) -> Image:
    """A softer, flatter clean picture: Gaussian blur σ ∈ [0.4, 1.2] px and contrast × [0.75, 1] about
    the mean — the look of a photograph with shallow depth of field or a low-contrast scene, which
    is still the best version of itself: sharpening or stretching it is over-processing, not repair."""
    sigma = float(rng.uniform(0.4, 1.2))
    soft = cv2.GaussianBlur(clean.astype(np.float32), (0, 0), sigma)
    mean = soft.reshape(-1, 3).mean(axis=0)
    soft = mean + (soft - mean) * float(rng.uniform(0.75, 1.0))
    return np.clip(np.rint(soft), 0, 255).astype(np.uint8)


def judge_group(clean: Image, rng: np.random.Generator, toolbox: Sequence[ToolboxTool] = (), tool_outputs: int = 3,
                min_gap_db: float = 0.1, min_gap_ssim: float = 0.001, psnr_weight: float = 0.5,
                sharpening_pairs: bool = False) -> JudgeGroup:
    """One clean patch and its distorted versions, with every pair whose order is known.

    With a ``toolbox``, the group holds ``tool_outputs`` (≥ 2) outputs of registered tools: one less
    than that applied to the degraded patch, and a second tool applied to the first one's output
    (as an agent chains tools); two of the three quick remedies make room for them. With
    ``sharpening_pairs`` the unsharp-masked degraded patch ranks below the degraded patch whenever
    it has lower PSNR, whatever SSIM says: sharpening that moves the picture away from the truth
    is no repair."""
    if toolbox and tool_outputs < 2:
        raise ValueError(f"tool_outputs must be at least 2 with a toolbox, got {tool_outputs}")
    g = JudgeGroup(psnr_weight=psnr_weight)
    structural: set[tuple[int, int]] = set()
    c = g.add(clean, clean, "clean")

    # a chain of 1–4 distinct degradations, each prefix kept (fewer degradations rank higher)
    n = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
    names = [DEGRADATIONS[i] for i in rng.permutation(len(DEGRADATIONS))[:n]]
    steps = [(name, _severity(rng), int(rng.integers(0, 2**31 - 1))) for name in names]
    prefix, prev = clean, c
    chain_idx = []
    for k, (name, sev, seed) in enumerate(steps):
        prefix = X.graded_degradation(name, prefix, sev, seed)
        idx = g.add(prefix, clean, "chain:" + "+".join(names[:k + 1]))
        structural.add((prev, idx))
        prev = idx
        chain_idx.append(idx)
    full, degraded = chain_idx[-1], prefix

    # the same chain with its last degradation lighter (same shape)
    name, sev, seed = steps[-1]
    lighter_steps = steps[:-1] + [(name, sev * float(rng.uniform(0.2, 0.8)), seed)]
    lighter = g.add(_chain(clean, lighter_steps), clean, f"lighter:{name}")
    structural.add((lighter, full))
    if n >= 2:  # a perfect tool for one degradation: the chain without it
        k = int(rng.integers(0, n))
        minus = g.add(_chain(clean, steps[:k] + steps[k + 1:]), clean, f"without:{names[k]}")
        structural.add((minus, full))

    # restoration attempts on the degraded image, one of them over-processed afterwards
    outputs = []
    for _ in range(1 if toolbox else 3):
        out, tag = _remedy(rng, degraded, steps)
        outputs.append(out)
        g.add(out, clean, tag)
    if toolbox:
        present = list(names)
        first = _pick_tool(rng, toolbox, present)
        tool_out = first(degraded)
        g.add(tool_out, clean, f"tool:{first.name}")
        for _ in range(tool_outputs - 2):
            other = _pick_tool(rng, toolbox, present)
            g.add(other(degraded), clean, f"tool:{other.name}")
        second = _pick_tool(rng, toolbox, [d for d in present if d != first.degradation] or present)
        g.add(second(tool_out), clean, f"tool:{first.name}>{second.name}")
    # unsharp masking of the degraded patch: a reward must not pay for it unless it helps
    usm = g.add(X.unsharp(degraded, float(rng.uniform(0.5, 2.0)), float(rng.uniform(0.8, 2.5))), clean, "usm")
    if sharpening_pairs and g.psnr[usm] < g.psnr[full]:
        structural.add((full, usm))
    kind = list(X.OVER_PROCESSING)[int(rng.integers(0, len(X.OVER_PROCESSING)))]
    g.add(X.over_process(kind, outputs[0], float(rng.uniform(0.1, 0.8)), int(rng.integers(0, 2**31 - 1))),
          clean, f"after:{kind}")

    # over-processing of the clean patch at two strengths (clean > lighter > heavier)
    kind = list(X.OVER_PROCESSING)[int(rng.integers(0, len(X.OVER_PROCESSING)))]
    s1 = float(rng.uniform(0.05, 0.6))  # severity 0 can be the identity (no gain, no cast)
    s2 = min(1.0, s1 + float(rng.uniform(0.15, 0.6)))
    seed = int(rng.integers(0, 2**31 - 1))
    light = g.add(X.over_process(kind, clean, s1, seed), clean, f"over:{kind}")
    heavy = g.add(X.over_process(kind, clean, s2, seed), clean, f"over:{kind}")

    # a degradation can undo part of another (blur averages noise away, darkening thins haze):
    # where PSNR and SSIM both contradict a "fewer degradations" order, the measured order wins
    structural = {(i, j) for i, j in structural
                  if not (g.psnr[j] > g.psnr[i] + min_gap_db and g.ssim[j] > g.ssim[i] + min_gap_ssim)}
    structural.add((light, heavy))
    structural.update((c, i) for i in range(1, len(g.images)))
    # every other pair ordered by the full-reference level where PSNR and SSIM agree
    for i in range(len(g.images)):
        for j in range(len(g.images)):
            if i == j or (g.psnr[i] == g.psnr[j] and np.array_equal(g.images[i], g.images[j])):
                continue  # a version can equal another (a tool that leaves the image as it is)
            if (i, j) in structural:
                g.pairs.append((i, j, True))
            elif (j, i) not in structural and g.psnr[i] > g.psnr[j] + min_gap_db and g.ssim[i] > g.ssim[j] + min_gap_ssim:
                g.pairs.append((i, j, False))
    return g


# ---------------------------------------------------------------------------------- expert pairs
EXPERT_CATEGORIES: tuple[str, ...] = ("dejpeg", "deblur_defocus", "deblur_motion")
_OTHER_DEGRADATIONS = ("noise", "dark", "haze", "rain")


def _pre_degrade(clean: Image, rng: np.random.Generator, exclude: tuple[str, ...]) -> Image:
    """With probability 0.35, a light or paper-strength other degradation before the target one."""
    if rng.uniform() >= 0.35:
        return clean
    options = [d for d in _OTHER_DEGRADATIONS + ("motion_blur", "defocus_blur", "jpeg") if d not in exclude]
    name = options[int(rng.integers(0, len(options)))]
    return X.graded_degradation(name, clean, float(rng.uniform(0.0, 0.7)), int(rng.integers(0, 2**31 - 1)))


def blur_kernel(category: str, rng: np.random.Generator) -> np.ndarray:
    """A random blur kernel of the expert's family, wider than the generator's (float64, sums to 1)."""
    if category == "deblur_defocus":
        u = rng.uniform()
        if u < 0.5:  # the generator's disk, any radius from barely to beyond the paper's 6
            return D.disk_kernel(float(rng.uniform(1.0, 7.0)), float(rng.choice([0.1, 0.5])))
        if u < 0.8:  # Gaussian
            sigma = float(rng.uniform(0.6, 3.5))
            half = math.ceil(3 * sigma)
            g = cv2.getGaussianKernel(2 * half + 1, sigma)
            return g @ g.T
        disk = D.disk_kernel(float(rng.uniform(1.0, 5.0)), 0.5)  # disk softened by a Gaussian
        return cv2.GaussianBlur(disk, (0, 0), float(rng.uniform(0.5, 2.0)))
    if category == "deblur_motion":
        radius = int(rng.integers(3, 16))
        return D.motion_kernel(radius, float(rng.uniform(1.5, 9.0)), float(rng.uniform(-90.0, 90.0)))
    raise ValueError(f"blur_kernel: {category!r} is not a blur category")


def expert_pair(category: str, clean: Image, rng: np.random.Generator) -> tuple[Image, Image]:
    """(degraded input, target) for expert ``category``; the target keeps any other degradation."""
    if category == "dejpeg":
        target = _pre_degrade(clean, rng, ("jpeg",))
        quality = int(rng.integers(10, 30)) if rng.uniform() < 0.7 else int(rng.integers(5, 61))
        return D.apply_jpeg(target, quality), target
    if category in ("deblur_defocus", "deblur_motion"):
        target = _pre_degrade(clean, rng, ("motion_blur", "defocus_blur", "noise", "jpeg"))
        kernel = blur_kernel(category, rng).astype(np.float32)
        blurred = cv2.filter2D(target.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
        if rng.uniform() < 0.3:  # a little sensor noise on top
            blurred = blurred + rng.standard_normal(blurred.shape).astype(np.float32) * float(rng.uniform(0.5, 4.0))
        return np.clip(np.rint(blurred), 0, 255).astype(np.uint8), target
    raise ValueError(f"no expert for category {category!r}; expected one of {', '.join(EXPERT_CATEGORIES)}")


# ------------------------------------------------------------------------------ detector samples
DETECTOR_CHAIN_LENGTHS: tuple[float, ...] = (0.1, 0.2, 0.25, 0.2, 0.15, 0.1)  # P(0 … 5 degradations)
FORMATION_ORDER_SHARE = 0.7  # the rest of the samples apply their degradations in random order
SCENE, IMAGING, SENSOR, COMPRESSION = ("rain", "haze"), ("dark", "motion_blur", "defocus_blur"), ("noise",), ("jpeg",)


def formation_order(names: Sequence[str], rng: np.random.Generator) -> list[str]:
    """``names`` in the order a camera meets them: the scene (rain, then haze), the optics and
    exposure (darkness and the two blurs, in random order), the sensor (noise), the encoder (JPEG)."""
    imaging = [n for n in names if n in IMAGING]
    imaging = [imaging[i] for i in rng.permutation(len(imaging))]
    return [n for n in SCENE if n in names] + imaging + [n for group in (SENSOR, COMPRESSION) for n in group if n in names]


def detector_sample(clean: Image, rng: np.random.Generator) -> tuple[Image, np.ndarray]:
    """(image, labels): ``clean`` with a random set of 0–5 distinct degradations, each with parameters
    drawn from the paper's ranges (``degradations.sample_params``, the benchmark's own generator),
    and float32 labels, 1 for each degradation present (``DEGRADATIONS`` order).

    Every mixture of the seven can occur, not only the benchmark's fifteen combinations. Most
    samples (``FORMATION_ORDER_SHARE``) apply them in image-formation order (``formation_order``),
    the others in random order."""
    n = int(rng.choice(len(DETECTOR_CHAIN_LENGTHS), p=DETECTOR_CHAIN_LENGTHS))
    names = [DEGRADATIONS[i] for i in rng.permutation(len(DEGRADATIONS))[:n]]
    if rng.uniform() < FORMATION_ORDER_SHARE:
        names = formation_order(names, rng)
    image, _ = D.degrade(clean, names, rng)
    labels = np.array([d in names for d in DEGRADATIONS], dtype=np.float32)
    return image, labels


def degradation_of(category: str) -> str:
    """The degradation an expert category targets."""
    return CATEGORY_TO_DEGRADATION[category]


SHARPENING_BLUR_SHARE = 0.4  # pairs whose picture carries one blur alone (where sharpening is most tempting)
SHARPENING_CLEAN_SHARE = 0.1  # pairs on the clean patch itself (sharpening a sharp picture never helps)
SHARPENING_AMOUNT = (0.5, 2.0)  # unsharp-masking amount, uniform
SHARPENING_SIGMA = (0.8, 2.5)  # its Gaussian σ in pixels, uniform


def sharpening_pair(clean: Image, rng: np.random.Generator) -> tuple[Image, Image, bool]:
    """(picture, the picture unsharp-masked, whether that lowered PSNR against ``clean``).

    The picture is ``clean`` with one blur (``SHARPENING_BLUR_SHARE``), ``clean`` itself
    (``SHARPENING_CLEAN_SHARE``) or a random mixture of the seven degradations (``detector_sample``);
    the sharpening's amount and σ are drawn from ``SHARPENING_AMOUNT`` and ``SHARPENING_SIGMA``. The
    label comes from the reference the generator holds, not from a person."""
    u = rng.uniform()
    if u < SHARPENING_BLUR_SHARE:
        picture, _ = D.degrade(clean, [str(rng.choice(["motion_blur", "defocus_blur"]))], rng)
    elif u < SHARPENING_BLUR_SHARE + SHARPENING_CLEAN_SHARE:
        picture = clean
    else:
        picture, _ = detector_sample(clean, rng)
    sharpened = X.unsharp(picture, float(rng.uniform(*SHARPENING_AMOUNT)), float(rng.uniform(*SHARPENING_SIGMA)))
    return picture, sharpened, bool(X.psnr(clean, sharpened) < X.psnr(clean, picture))
