"""Encoders: every available encoder (shape, dtype, determinism, batch = per image, bad input), the
``stats`` features (documented, finite, sensitive to the degradation they name) and ``clip`` on a
real open_clip architecture with random weights saved to a temp weights directory."""

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
    assert ENCODERS.embedded() == ["stats"]


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


def test_stats_are_finite_on_flat_and_small_images(encoders) -> None:
    flat = np.stack([np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)])
    assert np.all(np.isfinite(encoders["stats"](flat)))
    assert np.all(np.isfinite(encoders["stats"](np.zeros((1, 17, 23, 3), np.uint8))))
    with pytest.raises(InputError, match="16×16"):
        encoders["stats"](np.zeros((1, 8, 8, 3), np.uint8))


@pytest.mark.parametrize("degradation, feature, direction", [
    ("dark", "v_mean", -1), ("noise", "log_noise_floor", +1), ("jpeg", "log_blockiness", +1),
    ("haze", "dark_channel_p10", +1), ("rain", "ridge_block_share", +1),
    ("defocus_blur", "ring_dip", +1), ("motion_blur", "block_orientation_concentration", +1),
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


def test_stats_speed_budget(encoders) -> None:
    img = np.random.default_rng(0).integers(0, 256, (1, 256, 256, 3), dtype=np.uint8)
    enc = encoders["stats"]
    enc(img)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        enc(img)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.1, f"stats took {1000 * np.median(times):.0f} ms per 256² image"


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
