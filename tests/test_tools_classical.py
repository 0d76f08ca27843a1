"""Measured behaviour of the embedded classical toolbox, its estimators and the ``tools`` CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from restore_ray import degradations
from restore_ray.datasets import builtin_crops
from restore_ray.imageio import read_image, write_image
from restore_ray.names import CATEGORIES, CATEGORY_TO_DEGRADATION
from tool_actors.classical import estimate
from tool_actors.registry import TOOLS, Entry

CLASSICAL = [e.name for e in TOOLS.entries() if e.backend == "classical"]

# Fixed degradation parameters, one per degradation, inside the benchmark's ranges.
PARAMS: dict[str, dict] = {
    "dark": {"method": "gamma", "gamma": 0.6},
    "noise": {"kind": "gaussian", "sigma": 30.0, "seed": 5},
    "jpeg": {"quality": 15},
    "haze": {"A": 0.85, "beta": 1.4},
    "rain": {"value": 80, "length": 30, "angle": 12, "seed": 2},
    "motion_blur": {"radius": 10, "sigma": 3.0, "angle": 30.0},
    "defocus_blur": {"radius": 4, "alias_blur": 0.5},
}


def psnr(x: np.ndarray, ref: np.ndarray) -> float:
    mse = float(np.mean((x.astype(np.float64) - ref.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-10))


@pytest.fixture(scope="module")
def clean() -> list[np.ndarray]:
    """Three clean 128×128 test crops."""
    return builtin_crops("test", 3, 128, seed=11)


@pytest.fixture(scope="module")
def degraded(clean: list[np.ndarray]) -> dict[str, np.ndarray]:
    """degradation → uint8 (3, 128, 128, 3) batch of degraded crops."""
    return {d: np.stack([degradations.apply(d, c, **p) for c in clean]) for d, p in PARAMS.items()}


def test_at_least_two_classical_tools_per_category() -> None:
    for cat in CATEGORIES:
        names = [n for n in CLASSICAL if TOOLS.get(n).category == cat]
        assert len(names) >= 2, f"{cat}: {names}"
    for n in CLASSICAL:
        e = TOOLS.get(n)
        assert e.embedded and e.backend == "classical" and e.description and e.availability() == (True, "ok")
        assert n == n.lower() and " " not in n and "_" not in n


def test_paper_brightening_tools_are_registered() -> None:
    assert {"clahe", "gamma-2-3", "shift-40"} <= set(CLASSICAL)
    assert TOOLS.get("clahe").extra["params"] == {"clip_limit": 2.0, "tiles": 8}
    assert TOOLS.get("gamma-2-3").extra["params"]["exponent"] == pytest.approx(2 / 3)
    assert TOOLS.get("shift-40").extra["params"] == {"shift": 40}


@pytest.mark.parametrize("name", CLASSICAL)
def test_each_tool_improves_its_degradation(name: str, clean: list[np.ndarray],
                                            degraded: dict[str, np.ndarray]) -> None:
    degradation = CATEGORY_TO_DEGRADATION[TOOLS.get(name).category]
    lq = degraded[degradation]
    out = TOOLS.build(name)(lq)
    gains = [psnr(o, c) - psnr(x, c) for o, x, c in zip(out, lq, clean, strict=True)]
    assert np.mean(gains) > 0.2, f"{name} on {degradation}: ΔPSNR {gains}"


@pytest.mark.parametrize("category, target", [
    ("brighten", 4.0), ("denoise", 5.0), ("dehaze", 3.0), ("derain", 2.0),
    ("dejpeg", 0.3), ("deblur_motion", 0.7), ("deblur_defocus", 0.7),
])
def test_best_tool_per_category_reaches_its_gain(category: str, target: float, clean: list[np.ndarray],
                                                 degraded: dict[str, np.ndarray]) -> None:
    lq = degraded[CATEGORY_TO_DEGRADATION[category]]
    best = -np.inf
    for name in (n for n in CLASSICAL if TOOLS.get(n).category == category):
        out = TOOLS.build(name)(lq)
        best = max(best, float(np.mean([psnr(o, c) - psnr(x, c) for o, x, c in zip(out, lq, clean, strict=True)])))
    assert best >= target, f"{category}: best ΔPSNR {best:+.2f} dB < {target}"


@pytest.mark.parametrize("name", [n for n in CLASSICAL if TOOLS.get(n).category == "brighten"])
def test_brightening_raises_mean_value(name: str, degraded: dict[str, np.ndarray]) -> None:
    lq = degraded["dark"]
    out = TOOLS.build(name)(lq)
    assert out.max(axis=3).mean() > lq.max(axis=3).mean() + 5
    if name != "clahe":  # the global curves never darken a pixel; CLAHE equalises locally
        assert np.all(out.max(axis=3).astype(int) >= lq.max(axis=3).astype(int) - 1)


def test_brightening_keeps_hue() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 60, 30, 15
    out = TOOLS.build("gamma-2-3")(img[None])[0]
    ratio = out.astype(float) / img
    assert np.allclose(ratio, ratio[..., :1], atol=0.05)


@pytest.mark.parametrize("name", [n for n in CLASSICAL if TOOLS.get(n).category != "brighten"])
def test_clean_images_are_not_destroyed(name: str, clean: list[np.ndarray]) -> None:
    # measured on builtin crops: derain ≥ 19.5 dB, dehaze ≥ 21.7 dB, denoise ≥ 35 dB; blur and JPEG tools pass through
    floor = {"derain": 17.0, "dehaze": 19.0}.get(TOOLS.get(name).category, 25.0)
    out = TOOLS.build(name)(np.stack(clean))
    for o, c in zip(out, clean, strict=True):
        assert psnr(o, c) >= floor, f"{name} damaged a clean image: {psnr(o, c):.1f} dB"


@pytest.mark.parametrize("name", ["disk-wiener", "dct-dejpeg", "shifted-jpeg"])
def test_sharp_or_non_jpeg_images_pass_through(name: str, clean: list[np.ndarray]) -> None:
    batch = np.stack(clean)
    assert np.array_equal(TOOLS.build(name)(batch), batch)


@pytest.mark.parametrize("name", CLASSICAL)
@pytest.mark.parametrize("size", [(1, 1), (2, 3), (7, 5), (16, 17), (40, 33)])
def test_any_size_and_grey(name: str, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    img = rng.integers(0, 256, size=(1, *size, 3), dtype=np.uint8)
    grey = np.repeat(img[..., :1], 3, axis=3)
    for batch in (img, grey):
        out = TOOLS.build(name)(batch)
        assert out.shape == batch.shape and out.dtype == np.uint8
    tool = TOOLS.build(name)
    if min(size) < type(tool).min_work_side:
        assert np.array_equal(tool(img), img)  # documented pass-through


def test_grey_stays_grey() -> None:
    crop = builtin_crops("train", 4, 64, seed=2)[3]  # the grey 'camera' picture
    assert np.array_equal(crop[..., 0], crop[..., 1])
    noisy = degradations.apply("noise", crop, kind="gaussian", sigma=20, seed=1)
    grey = np.repeat(noisy.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    for name in ("dct-denoise", "clahe", "dcp-dehaze", "streak-derain"):
        out = TOOLS.build(name)(grey[None])[0]
        assert np.abs(out.astype(int) - out[..., :1]).max() <= 1, name


# ------------------------------------------------------------------------------------- estimators
def test_noise_sigma(clean: list[np.ndarray]) -> None:
    for sigma in (15, 30):
        noisy = degradations.apply("noise", clean[0], kind="gaussian", sigma=sigma, seed=1)
        assert estimate.noise_sigma(noisy) == pytest.approx(sigma, rel=0.2)
    assert estimate.noise_sigma(clean[1]) < 5
    assert estimate.noise_sigma(np.zeros((1, 1, 3), np.uint8)) == 0.0


@pytest.mark.parametrize("quality", [10, 22, 29])
def test_jpeg_quality(quality: int, clean: list[np.ndarray]) -> None:
    assert estimate.jpeg_quality(degradations.apply("jpeg", clean[0], quality=quality)) == quality


def test_jpeg_quality_none_for_clean(clean: list[np.ndarray]) -> None:
    assert estimate.jpeg_quality(clean[0]) is None
    assert estimate.jpeg_quality(np.zeros((8, 8, 3), np.uint8)) is None


@pytest.mark.parametrize("radius", [3, 4, 6])
def test_defocus_radius(radius: int, clean: list[np.ndarray]) -> None:
    blurred = degradations.apply("defocus_blur", clean[2], radius=radius, alias_blur=0.5)
    assert estimate.defocus_radius(blurred) == pytest.approx(radius, abs=0.5)
    assert estimate.defocus_radius(clean[2]) == 0.0


@pytest.fixture(scope="module")
def clean256() -> np.ndarray:
    """A 256×256 test crop: the spectral motion fit needs a few hundred pixels a side to be reliable."""
    return builtin_crops("test", 2, 256, seed=11)[1]


@pytest.mark.parametrize("angle", [-60.0, 0.0, 45.0])
def test_motion_trail_direction(angle: float, clean256: np.ndarray) -> None:
    blurred = degradations.apply("motion_blur", clean256, radius=10, sigma=3.0, angle=angle)
    est = estimate.motion_trail(blurred)
    # the generator's angle is measured with y pointing down; the estimator's with y up
    diff = abs((est.angle - (-angle)) % 180.0)
    assert min(diff, 180.0 - diff) <= 12.0
    assert 2.0 <= est.scale <= 5.0 and est.relative_error < 0.9
    assert estimate.motion_trail(clean256).scale == 0.0


@pytest.mark.parametrize("angle", [-25, 0, 20])
def test_streak_angle(angle: int, clean: list[np.ndarray]) -> None:
    rainy = degradations.apply("rain", clean[0], value=80, length=30, angle=angle, seed=3)
    got, _ = estimate.streak_angle(rainy.astype(np.float32).mean(axis=2))
    expected = (90 + angle) % 180  # the generator turns a '\' line by angle − 45° counter-clockwise
    diff = abs(got - expected) % 180
    assert min(diff, 180 - diff) <= 10.0


# ------------------------------------------------------------------------------------------- CLI
def _cli():
    from restore_ray.commands.tools import app

    return app


def test_cli_list_json() -> None:
    result = CliRunner().invoke(_cli(), ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    for name in CLASSICAL:
        assert rows[name]["available"] and rows[name]["device"] == "cpu" and rows[name]["backend"] == "classical"
    assert set(rows) == set(TOOLS.names())


def test_cli_list_table() -> None:
    result = CliRunner().invoke(_cli(), ["list"])
    assert result.exit_code == 0 and "dct-denoise" in result.output and "available here" in result.output


def test_cli_apply(tmp_path, degraded: dict[str, np.ndarray]) -> None:
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    write_image(src, degraded["dark"][0])
    result = CliRunner().invoke(_cli(), ["apply", "gamma-2-3", str(src), str(dst)])
    assert result.exit_code == 0, result.output
    expected = TOOLS.build("gamma-2-3")(degraded["dark"][:1])[0]
    assert np.array_equal(read_image(dst), expected)


def test_cli_apply_unknown_name(tmp_path) -> None:
    result = CliRunner().invoke(_cli(), ["apply", "no-such-tool", str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    assert result.exit_code == 2
    assert "unknown tool 'no-such-tool'" in result.output and "dct-denoise" in result.output


def test_cli_apply_unavailable(tmp_path, monkeypatch) -> None:
    entry = Entry(name="needs-weights", factory=lambda **_: None, category="denoise", backend="neural",
                  unavailable="needs the package 'nothing-here'")
    monkeypatch.setitem(TOOLS._entries, entry.name, entry)
    result = CliRunner().invoke(_cli(), ["apply", "needs-weights", str(tmp_path / "a.png"), str(tmp_path / "b.png")])
    assert result.exit_code == 1 and "nothing-here" in result.output


def test_cli_apply_bad_image(tmp_path) -> None:
    src = tmp_path / "bad.png"
    src.write_bytes(b"not an image")
    result = CliRunner().invoke(_cli(), ["apply", "clahe", str(src), str(tmp_path / "out.png")])
    assert result.exit_code == 1 and "bad.png" in result.output
