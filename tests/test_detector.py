"""The degradation detector (``detect-small``) and the encoders built on it (``detect``,
``stats-detect``): a tiny training that learns and replaces the shipped weights, the samples'
labels, the shipped detector on photographs it never saw, the CLI, and the encoder contracts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from restore_ray import degradations as D
from restore_ray.datasets import TEST_SOURCES, TRAIN_SOURCES, builtin_crops
from restore_ray.names import DEGRADATIONS
from tool_actors.base import UnavailableError
from tool_actors.encoders.detect import DetectEncoder, StatsDetectEncoder
from tool_actors.encoders.stats import SQUASH, StatsEncoder
from tool_actors.learned.data import detector_sample
from tool_actors.learned.nets import DetectorConfig, DetectorNet
from tool_actors.learned.train_detector import DETECTOR_NAME, DetectorTrainConfig, train_detector
from tool_actors.registry import ENCODERS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def detector() -> DetectEncoder:
    return DetectEncoder()


def test_detector_samples_are_labelled_by_what_was_applied() -> None:
    rng = np.random.default_rng(0)
    clean = builtin_crops("train", 1, 64, seed=0)[0]
    counts = np.zeros(len(DEGRADATIONS))
    seen_clean = seen_many = False
    for _ in range(60):
        image, labels = detector_sample(clean, rng)
        assert image.shape == clean.shape and image.dtype == np.uint8 and labels.dtype == np.float32
        assert set(np.unique(labels)) <= {0.0, 1.0}
        if labels.sum() == 0:
            seen_clean = True
            np.testing.assert_array_equal(image, clean)
        else:
            assert not np.array_equal(image, clean)
        seen_many |= labels.sum() >= 3
        counts += labels
    assert seen_clean and seen_many and np.all(counts > 0)  # every degradation, alone and in mixtures


def test_tiny_detector_training_learns_and_replaces_the_shipped_one(tmp_path: Path) -> None:
    cfg = DetectorTrainConfig(steps=40, batch_size=8, patch=32, lr=3e-3, warmup=5, widths=(8, 8, 16, 16),
                              eval_every=20, val_samples=24, eval_samples=16, eval_patch=48, seed=1)
    steps: list[int] = []
    card = train_detector(cfg, tmp_path / "learned", lambda step, total, parts: steps.append(step))
    assert steps == list(range(1, 41))
    val_loss = [v for _, v in card["held_out_checks"]["val_loss"]]  # fixed held-out samples, steps 0, 20, 40
    assert len(val_loss) == 3 and val_loss[-1] < 0.9 * val_loss[0]
    saved = json.loads((tmp_path / "learned" / f"{DETECTOR_NAME}.json").read_text())
    assert saved["labels"] == list(DEGRADATIONS) and saved["human_labels"] is False
    assert saved["data"]["pictures"] == list(TRAIN_SOURCES) and not set(saved["data"]["pictures"]) & set(TEST_SOURCES)
    assert {f"acc_{d}" for d in DEGRADATIONS} <= set(saved["measured"])
    assert (tmp_path / "learned" / f"{DETECTOR_NAME}.curve.png").stat().st_size > 1000
    encoder = ENCODERS.build("stats-detect", weights_dir=tmp_path)
    assert encoder.detect.weights_path == tmp_path / "learned" / f"{DETECTOR_NAME}.safetensors"
    assert encoder.detect.model.config.widths == (8, 8, 16, 16)
    out = encoder(np.stack(builtin_crops("train", 2, 40, seed=0)))
    assert out.shape == (2, StatsEncoder.dim + len(DEGRADATIONS)) and out.dtype == np.float32


def test_detector_weights_for_other_labels_are_refused(tmp_path: Path) -> None:
    cfg = DetectorTrainConfig(steps=1, batch_size=2, patch=32, widths=(8, 8, 16, 16), eval_every=1, val_samples=2,
                              eval_samples=2, eval_patch=32)
    train_detector(cfg, tmp_path / "learned")
    card_path = tmp_path / "learned" / f"{DETECTOR_NAME}.json"
    card = json.loads(card_path.read_text())
    card["labels"] = ["noise", "jpeg"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match="encoders train"):
        DetectEncoder(weights_dir=tmp_path)
    (tmp_path / "learned" / f"{DETECTOR_NAME}.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(UnavailableError, match="cannot read weights file"):
        DetectEncoder(weights_dir=tmp_path)


def test_detector_net_accepts_its_minimum_size() -> None:
    net = DetectorNet(DetectorConfig(widths=(8, 8, 16, 16))).eval()
    with torch.no_grad():
        assert net(torch.rand(3, 3, 16, 24)).shape == (3, len(DEGRADATIONS))


# ----------------------------------------------------------------------------- shipped detector
def test_shipped_detector_finds_single_degradations_on_unseen_photographs(detector: DetectEncoder) -> None:
    """Each degradation alone, at the paper's strengths, on crops of the TEST photographs: the detector
    names it (logit > 0) and, on the clean crops, names almost nothing."""
    clean = builtin_crops("test", 6, 192, seed=5)
    rng = np.random.default_rng(1)
    clean_logits = detector.logits(np.stack(clean))
    assert np.mean(clean_logits > 0) <= 0.1, f"false alarms on clean photographs: {np.round(clean_logits, 1)}"
    for j, name in enumerate(DEGRADATIONS):
        degraded = np.stack([D.degrade(img, [name], rng)[0] for img in clean])
        hits = detector.logits(degraded)[:, j] > 0
        assert hits.mean() >= 5 / 6, f"{name} found on {hits.sum()}/6 degraded test crops"


def test_shipped_detector_sees_each_part_of_a_mixture(detector: DetectEncoder) -> None:
    clean = builtin_crops("test", 4, 192, seed=6)
    rng = np.random.default_rng(2)
    names = ["rain", "haze", "defocus_blur", "jpeg"]  # a Setting IV combination
    mixed = np.stack([D.degrade(img, names, rng)[0] for img in clean])
    found = detector.logits(mixed) > 0
    wanted = np.array([d in names for d in DEGRADATIONS])
    assert (found == wanted).mean() >= 0.85, f"detected {found.astype(int)} for {names}"


@pytest.mark.parametrize("name", ["detect", "stats-detect"])
def test_detect_encoders_contract(name: str, scoring_crops) -> None:
    enc = ENCODERS.build(name)
    batch = scoring_crops["degraded"][:3]
    out = enc(batch)
    assert out.shape == (3, enc.dim) and enc.dim == ENCODERS.get(name).extra["dim"] and out.dtype == np.float32
    assert np.all(np.abs(out) <= SQUASH)
    np.testing.assert_array_equal(enc(batch), out)
    np.testing.assert_allclose(np.concatenate([enc(img[None]) for img in batch]), out, rtol=1e-5, atol=1e-5)
    for odd in (np.zeros((1, 1, 1, 3), np.uint8), np.full((1, 9, 40, 3), 200, np.uint8)):
        small = enc(odd)
        assert small.shape == (1, enc.dim) and np.all(np.isfinite(small)) and np.all(np.abs(small) <= SQUASH)


def test_stats_detect_is_stats_then_detect(scoring_crops) -> None:
    batch = scoring_crops["degraded"][:2]
    both = StatsDetectEncoder()(batch)
    np.testing.assert_array_equal(both[:, :StatsEncoder.dim], ENCODERS.build("stats")(batch))
    np.testing.assert_array_equal(both[:, StatsEncoder.dim:], ENCODERS.build("detect")(batch))


def test_large_images_are_downscaled_before_detection(detector: DetectEncoder) -> None:
    big = np.tile(builtin_crops("test", 1, 256, seed=0)[0], (5, 5, 1))  # 1280²
    out = detector(big[None])
    assert out.shape == (1, len(DEGRADATIONS)) and np.all(np.isfinite(out))


def test_cli_encoders_train_writes_a_detector(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from restore_ray.cli import app

    result = CliRunner().invoke(app, ["encoders", "train", "--out", str(tmp_path), "--steps", "2", "--batch-size", "2",
                                      "--patch", "32"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / f"{DETECTOR_NAME}.json").read_text())
    assert card["steps"] == 2 and card["command"].startswith("restore-ray encoders train --out")
