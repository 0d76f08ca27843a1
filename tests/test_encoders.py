"""Encoders: every available encoder (shape, dtype, determinism, batch = per image, bad input), the
``stats`` features (documented, finite and bounded on odd inputs, sensitive to the degradation they
name, robust to another one) and ``clip`` on a real open_clip architecture with random weights saved
to a temp weights directory."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tool_actors.base import InputError, UnavailableError
from tool_actors.registry import ENCODERS

CLIP_FILE = "open_clip/ViT-B-32-quickgelu.safetensors"


@pytest.fixture(scope="module")
def clip_weights(tmp_path_factory) -> Path:
    """open_clip ViT-B-32-quickgelu with random weights (float16 to halve the file), as ``clip-b32`` expects."""
    import open_clip
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32-quickgelu", pretrained=None)
    (root / CLIP_FILE).parent.mkdir(parents=True)
    save_file({k: v.detach().half().contiguous() for k, v in model.state_dict().items()}, str(root / CLIP_FILE))
    return root


@pytest.fixture(scope="module")
def encoders(clip_weights) -> dict:
    """Every encoder that can be built with the temp weights directory."""
    torch.set_num_threads(1)
    out = {}
    for entry in ENCODERS.entries():
        if entry.availability(clip_weights)[0]:
            out[entry.name] = ENCODERS.build(entry.name, weights_dir=clip_weights)
    return out


def test_the_embedded_and_weight_encoders_are_available(encoders) -> None:
    assert "stats" in encoders and "clip-b32" in encoders
    assert ENCODERS.embedded() == ["stats", "detect", "stats-detect"]


@pytest.mark.parametrize("name", ["stats", "clip-b32"])
def test_shape_dtype_determinism_and_batching(encoders, scoring_crops, name) -> None:
    enc = encoders[name]
    batch = scoring_crops["degraded"][:3]
    out = enc(batch)
    assert out.shape == (3, enc.dim) and out.dtype == np.float32 and np.all(np.isfinite(out))
    assert enc.dim == ENCODERS.get(name).extra["dim"]
    np.testing.assert_array_equal(enc(batch), out)
    np.testing.assert_allclose(np.concatenate([enc(img[None]) for img in batch]), out, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["stats", "clip-b32"])
def test_bad_input_is_an_input_error(encoders, name) -> None:
    enc = encoders[name]
    good = np.zeros((1, 64, 64, 3), np.uint8)
    with pytest.raises(InputError, match="uint8"):
        enc(good.astype(np.float64))
    with pytest.raises(InputError, match="batch axis"):
        enc(good[0])
    with pytest.raises(InputError, match="3 RGB channels"):
        enc(np.zeros((1, 64, 64, 4), np.uint8))


# ------------------------------------------------------------------------------------------ stats
def test_stats_features_are_documented_and_normalised_consistently() -> None:
    from tool_actors.encoders.stats import StatsEncoder, normalisation
    from tool_actors.encoders.stats_features import FEATURE_NAMES, FEATURES

    assert len(set(FEATURE_NAMES)) == len(FEATURES) == StatsEncoder.dim
    assert all(desc and len(desc) > 10 for _, desc in FEATURES)
    centre, scale = normalisation()
    assert centre.shape == scale.shape == (len(FEATURES),) and np.all(scale > 0)
    assert np.all(np.isfinite(centre)) and np.all(np.isfinite(scale))


ODD_IMAGES = {
    "black": np.zeros((1, 64, 64, 3), np.uint8),
    "white": np.full((1, 64, 64, 3), 255, np.uint8),
    "one pixel": np.full((1, 1, 1, 3), 77, np.uint8),
    "one row": np.random.default_rng(0).integers(0, 256, (1, 1, 40, 3), dtype=np.uint8),
    "tiny": np.random.default_rng(1).integers(0, 256, (1, 8, 8, 3), dtype=np.uint8),
    "odd size": np.random.default_rng(2).integers(0, 256, (1, 17, 23, 3), dtype=np.uint8),
    "noise": np.random.default_rng(3).integers(0, 256, (1, 96, 96, 3), dtype=np.uint8),
    "saturated colour": np.tile(np.array([255, 0, 0], np.uint8), (1, 48, 48, 1)),
    "stripes": np.tile(np.array([0, 255], np.uint8).repeat(3), (1, 64, 32, 1)).reshape(1, 64, 64, 3),
}


@pytest.mark.parametrize("kind", list(ODD_IMAGES))
def test_stats_outputs_are_finite_and_within_the_squash_bound_on_odd_inputs(encoders, kind) -> None:
    from tool_actors.encoders.stats import SQUASH

    out = encoders["stats"](ODD_IMAGES[kind])
    assert out.shape == (1, encoders["stats"].dim) and out.dtype == np.float32
    assert np.all(np.isfinite(out)), f"non-finite stats on {kind}"
    assert np.all(np.abs(out) <= SQUASH), f"stats on {kind} exceed the ±{SQUASH} squash bound: {np.abs(out).max()}"


def test_squash_is_near_identity_then_bounded_and_monotone() -> None:
    from tool_actors.encoders.stats import SQUASH, squash

    z = np.linspace(-100, 100, 2001, dtype=np.float32)
    y = squash(z)
    small = np.abs(z) <= 1
    np.testing.assert_allclose(y[small], z[small], atol=0.02)
    assert np.all(np.abs(y) <= SQUASH) and np.all(np.diff(y) >= 0)
    assert y[-1] > SQUASH - 1e-3 and y[0] < -SQUASH + 1e-3


def test_stats_outputs_on_degraded_images_mostly_stay_in_the_linear_range(encoders, scoring_crops) -> None:
    """Standardisation is fitted on training crops: typical test outputs are a few units, few are squashed."""
    out = encoders["stats"](np.concatenate([scoring_crops["clean"], scoring_crops["degraded"]]))
    assert np.median(np.abs(out)) < 1.5
    assert (np.abs(out) > 4.0).mean() < 0.05


def test_norm_constants_are_robust_and_never_zero() -> None:
    from tool_actors.encoders.stats_norm import constants

    rng = np.random.default_rng(0)
    feats = np.column_stack([rng.normal(3.0, 2.0, 400),  # ordinary: median ≈ 3, IQR/1.349 ≈ 2
                             np.r_[np.zeros(390), np.ones(10)],  # constant on most images: falls back to std
                             np.full(400, 7.0)])  # constant: scale 1
    centre, scale = constants(feats)
    assert abs(centre[0] - 3.0) < 0.3 and abs(scale[0] - 2.0) < 0.3
    assert centre[1] == 0.0 and abs(scale[1] - feats[:, 1].std()) < 1e-9
    assert centre[2] == 7.0 and scale[2] == 1.0


@pytest.mark.parametrize("degradation, feature, direction", [
    ("dark", "v_mean", -1), ("noise", "log_noise_floor", +1), ("jpeg", "log_blockiness", +1),
    ("haze", "dark_channel_p10", +1), ("rain", "log_line_block_positive", +1), ("rain", "log_line_spread", +1),
    ("defocus_blur", "tile_fine_sharpest", -1), ("defocus_blur", "ring_dip", +1),
    ("motion_blur", "log_tile_mid_agreement", +1), ("motion_blur", "log_tile_agreement_max", +1),
    ("motion_blur", "acf_aniso_len_50", +1), ("defocus_blur", "acf_min_len_50", +1),
])
def test_each_degradation_moves_its_feature(scoring_crops, degradation, feature, direction) -> None:
    from restore_ray.degradations import degrade
    from tool_actors.encoders.stats_features import FEATURE_NAMES, image_features

    k = FEATURE_NAMES.index(feature)
    rng = np.random.default_rng(1)
    moved = 0
    for img in scoring_crops["clean"]:
        before = image_features(img)[k]
        after = image_features(degrade(img, [degradation], rng)[0])[k]
        moved += direction * (after - before) > 0
    assert moved >= 5, f"{feature} moved the expected way on only {moved}/6 crops under {degradation}"


@pytest.mark.parametrize("other", ["dark", "haze", "jpeg"])
def test_motion_direction_survives_another_degradation(scoring_crops, other) -> None:
    """The shared blur direction still reads as motion when dark, haze or JPEG is added after it."""
    from restore_ray.degradations import apply
    from tool_actors.encoders.stats_features import FEATURE_NAMES, image_features

    k = FEATURE_NAMES.index("log_tile_agreement_max")
    params = {"dark": {"method": "gamma", "gamma": 0.6}, "haze": {"A": 0.85, "beta": 1.0}, "jpeg": {"quality": 25}}
    moved = 0
    for img, angle in zip(scoring_crops["clean"], (0.0, 30.0, 60.0, 90.0, -30.0, -60.0)):
        base = image_features(apply(other, img, **params[other]))[k]
        blurred = image_features(apply(other, apply("motion_blur", img, radius=15, sigma=5.0, angle=angle),
                                       **params[other]))[k]
        moved += blurred > base
    assert moved >= 5, f"motion blur raised the agreement under {other} on only {moved}/6 crops"


def test_stats_speed_budget(encoders) -> None:
    img = np.random.default_rng(0).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    enc = encoders["stats"]
    enc(img)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        enc(img)
        times.append(time.perf_counter() - start)
    # ≈ 10 ms on an idle core; the bound leaves room for a busy shared machine
    assert min(times) < 0.1, f"stats took {1000 * min(times):.0f} ms per 256² image"


# ------------------------------------------------------------------------------------------- clip
def test_clip_embeddings_are_unit_vectors_from_local_weights(clip_weights, scoring_no_network, scoring_crops) -> None:
    enc = ENCODERS.build("clip-b32", weights_dir=clip_weights)
    out = enc(scoring_crops["clean"][:2, :100])  # non-square input: resized and centre-cropped
    assert out.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-4)
    assert not any(p.requires_grad for p in enc.model.parameters()) and not enc.model.training


def test_clip_without_weights_names_the_file(tmp_path) -> None:
    ok, reason = ENCODERS.get("clip").availability(tmp_path)
    assert not ok and "open_clip/ViT-L-14-quickgelu.safetensors" in reason
    with pytest.raises(UnavailableError, match="ViT-L-14-quickgelu"):
        ENCODERS.build("clip", weights_dir=tmp_path)
