"""Each degradation does what it claims, measured on builtin photographs; determinism; the explicit API."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from restore_ray import degradations as D
from restore_ray.datasets import builtin_crops
from restore_ray.names import DEGRADATIONS


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    return builtin_crops("train", 6, 128, seed=3)


def mean_v(img: np.ndarray) -> float:
    return float(img.max(axis=2).mean())


def lap_var(img: np.ndarray) -> float:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def dark_channel(img: np.ndarray, patch: int = 7) -> float:
    return float(cv2.erode(img.min(axis=2), np.ones((patch, patch), np.uint8)).mean())


def blockiness(img: np.ndarray) -> float:
    """Mean |horizontal step| across 8-pixel block boundaries over the mean step inside blocks."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)
    d = np.abs(np.diff(g, axis=1))  # d[:, j] = |g[:, j+1] - g[:, j]|
    cols = np.arange(d.shape[1])
    boundary = d[:, cols % 8 == 7].mean()
    inside = d[:, cols % 8 != 7].mean()
    return float(boundary / inside)


def test_registry_has_the_seven_canonical_names() -> None:
    assert tuple(D.REGISTRY) == DEGRADATIONS == (
        "dark", "noise", "jpeg", "haze", "rain", "motion_blur", "defocus_blur")


@pytest.mark.parametrize("method,params", [("gamma", {"gamma": 0.6}), ("linear", {"dst_max": 149})])
def test_dark_curves_darken_every_pixel(crops, method, params) -> None:
    for img in crops:
        out = D.apply("dark", img, method=method, **params)
        assert np.all(out.max(axis=2).astype(int) <= img.max(axis=2).astype(int) + 1)
        assert mean_v(out) <= 0.85 * mean_v(img), (method, mean_v(img), mean_v(out))


def test_dark_shift_lowers_v_by_the_shift(crops) -> None:
    for img in crops:
        out = D.apply("dark", img, method="shift", shift=30)
        v_in, v_out = img.max(axis=2).astype(int), out.max(axis=2).astype(int)
        unclipped = v_in >= 32
        assert np.abs((v_in - v_out)[unclipped] - 30).mean() < 1.5  # HSV round trip: ±1 level


def test_dark_sampled_parameters_lower_mean_v_by_a_quarter(crops) -> None:
    rng = np.random.default_rng(0)
    ratios = [mean_v(D.apply("dark", img, **D.sample_params("dark", rng))) / mean_v(img)
              for img in crops for _ in range(5)]
    assert np.mean(ratios) <= 0.75 and max(ratios) < 0.9


@pytest.mark.parametrize("sigma", [20.0, 30.0, 50.0])
def test_gaussian_noise_residual_std_is_sigma(sigma) -> None:
    grey = np.full((128, 128, 3), 128, np.uint8)  # mid-grey: no clipping
    out = D.apply("noise", grey, kind="gaussian", sigma=sigma, seed=1)
    residual = out.astype(np.float64) - grey
    assert residual.std() == pytest.approx(sigma, rel=0.05)
    assert abs(residual.mean()) < 1.0
    # independent per channel (colour noise)
    assert np.corrcoef(residual[..., 0].ravel(), residual[..., 1].ravel())[0, 1] < 0.1


def test_poisson_noise_grows_with_scale(crops) -> None:
    img = crops[0]
    stds = [(D.apply("noise", img, kind="poisson", scale=s, seed=2).astype(float) - img).std() for s in (1.0, 3.0)]
    assert 2.0 < stds[0] < stds[1]
    assert stds[1] / stds[0] == pytest.approx(3.0, rel=0.25)


def test_jpeg_quality_10_creates_block_edges(crops) -> None:
    for img in crops[:4]:
        smooth = cv2.GaussianBlur(img, (0, 0), 1.0)  # remove texture so block edges stand out
        out = D.apply("jpeg", smooth, quality=10)
        assert blockiness(out) > 1.3 * blockiness(smooth)
        assert blockiness(out) > 1.2


@pytest.mark.parametrize("name,params", [("motion_blur", {"radius": 10, "sigma": 3.0, "angle": 30.0}),
                                         ("defocus_blur", {"radius": 3, "alias_blur": 0.1})])
def test_blurs_lower_laplacian_variance(crops, name, params) -> None:
    for img in crops:
        assert lap_var(D.apply(name, img, **params)) < 0.5 * lap_var(img)


def test_motion_kernel_is_a_normalised_line_along_the_angle() -> None:
    k = D.motion_kernel(10, 3.0, 0.0)
    assert k.sum() == pytest.approx(1.0)
    ys, xs = np.nonzero(k)
    assert len(set(ys)) == 1 and len(xs) == 21  # horizontal line of 2r+1 taps
    k90 = D.motion_kernel(10, 3.0, 90.0)
    ys, xs = np.nonzero(k90)
    assert len(set(xs)) == 1 and len(ys) == 21


def test_haze_raises_dark_channel_and_lowers_contrast(crops) -> None:
    for img in crops:
        out = D.apply("haze", img, A=0.8, beta=1.0)
        assert dark_channel(out) > dark_channel(img) + 20
        assert out.std() < img.std()


def test_haze_uses_the_given_depth() -> None:
    img = np.full((32, 32, 3), 50, np.uint8)
    near = D.apply("haze", img, A=0.9, beta=1.5, depth=np.full((32, 32), 0.01))
    depth = np.zeros((32, 32))
    depth[:, 16:] = 1.0
    split = D.apply("haze", img, A=0.9, beta=1.5, depth=depth)
    assert split[:, 20:].mean() > split[:, :12].mean() + 50  # far half much hazier
    assert near.mean() > 50  # depth normalised to max 1: the whole image is "far"


def test_pseudo_depth_is_documented_ramp() -> None:
    d = D.pseudo_depth(5, 3)
    assert d[0, 0] == pytest.approx(1.0) and d[-1, 0] == pytest.approx(0.3)
    assert np.all(np.diff(d[:, 0]) < 0)


def test_rain_adds_thin_oriented_bright_streaks() -> None:
    img = np.full((160, 160, 3), 60, np.uint8)
    out = D.apply("rain", img, value=80, length=30, angle=0, seed=5)
    diff = out.astype(int) - img
    assert diff.min() >= 0  # only adds light
    assert np.all(diff[..., 0] == diff[..., 1]) and np.all(diff[..., 1] == diff[..., 2])  # same on all channels
    layer = diff[..., 0].astype(np.float64)
    assert 0.02 < (layer > 20).mean() < 0.6  # sparse streaks, not a veil
    gx = cv2.Sobel(layer, cv2.CV_64F, 1, 0)
    gy = cv2.Sobel(layer, cv2.CV_64F, 0, 1)
    # angle 0 → vertical streaks: intensity changes across (x) much more than along (y)
    assert (gx**2).sum() > 3 * (gy**2).sum()
    tilted = D.rain_layer(160, 160, value=80, length=30, angle=29, seed=5).astype(np.float64)
    tx = cv2.Sobel(tilted, cv2.CV_64F, 1, 0)
    ty = cv2.Sobel(tilted, cv2.CV_64F, 0, 1)
    theta = 0.5 * np.degrees(np.arctan2(2 * (tx * ty).sum(), ((tx**2) - (ty**2)).sum()))
    assert 10 < abs(theta) < 50  # the dominant gradient direction turned with the streaks


@pytest.mark.parametrize("name", DEGRADATIONS)
def test_same_seed_gives_identical_bytes(crops, name) -> None:
    a = D.degrade(crops[1], [name], np.random.default_rng(42))
    b = D.degrade(crops[1], [name], np.random.default_rng(42))
    assert a[1] == b[1]
    assert a[0].tobytes() == b[0].tobytes()
    assert a[0].dtype == np.uint8 and a[0].shape == crops[1].shape


@pytest.mark.parametrize("name", ["noise", "rain"])
def test_stochastic_degradations_depend_on_their_seed(crops, name) -> None:
    params = D.sample_params(name, np.random.default_rng(0))
    a = D.apply(name, crops[0], **params)
    b = D.apply(name, crops[0], **{**params, "seed": params["seed"] + 1})
    assert a.tobytes() != b.tobytes()


def test_sampled_parameters_stay_in_the_paper_ranges() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        dark = D.sample_params("dark", rng)
        if dark["method"] == "shift":
            assert 30 <= dark["shift"] < 50
        elif dark["method"] == "gamma":
            assert 0.5 <= dark["gamma"] < 0.7
        else:
            assert 100 <= dark["dst_max"] < 150
        noise = D.sample_params("noise", rng)
        if noise["kind"] == "gaussian":
            assert 20 <= noise["sigma"] <= 50
        else:
            assert 1 <= noise["scale"] <= 3
        assert 10 <= D.sample_params("jpeg", rng)["quality"] < 30
        haze = D.sample_params("haze", rng)
        assert 0.7 <= haze["A"] <= 1.0 and 0.6 <= haze["beta"] <= 1.8
        rain = D.sample_params("rain", rng)
        assert 50 <= rain["value"] < 100 and 20 <= rain["length"] < 40 and -30 <= rain["angle"] < 30
        motion = D.sample_params("motion_blur", rng)
        assert (motion["radius"], motion["sigma"]) in D.MOTION_SEVERITIES and -90 <= motion["angle"] <= 90
        defocus = D.sample_params("defocus_blur", rng)
        assert (defocus["radius"], defocus["alias_blur"]) in D.DEFOCUS_SEVERITIES


def test_explicit_parameters_and_replay(crops) -> None:
    img = crops[2]
    out, params = D.degrade(img, ["rain", "haze", "jpeg"], np.random.default_rng(9))
    assert [p["name"] for p in params] == ["rain", "haze", "jpeg"]
    assert D.replay(img, params).tobytes() == out.tobytes()
    # order matters: the same parameters in another order give another image
    assert D.replay(img, params[::-1]).tobytes() != out.tobytes()


def test_bad_parameters_and_names_are_clear_errors(crops) -> None:
    with pytest.raises(ValueError, match="unknown degradation 'blur'"):
        D.apply("blur", crops[0])
    with pytest.raises(ValueError, match="noise: bad parameters"):
        D.apply("noise", crops[0], sigmaa=3)
    with pytest.raises(ValueError, match="unknown kind"):
        D.apply("noise", crops[0], kind="speckle")
    with pytest.raises(ValueError, match="quality"):
        D.apply("jpeg", crops[0], quality=0)
    with pytest.raises(ValueError, match="uint8 \\(H, W, 3\\)"):
        D.apply("dark", crops[0].astype(np.float32))


@pytest.mark.parametrize("name", DEGRADATIONS)
def test_tiny_images_do_not_crash(name) -> None:
    for shape in [(1, 1, 3), (3, 17, 3)]:
        img = np.full(shape, 120, np.uint8)
        out = D.apply(name, img, **D.sample_params(name, np.random.default_rng(0)))
        assert out.shape == shape and out.dtype == np.uint8
