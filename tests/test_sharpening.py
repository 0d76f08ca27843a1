"""The over-sharpening detector (``sharpen-small``) and the judge that subtracts it (``judge-quartet``):
the pairs' labels, the loss, a tiny training that learns, the scorer's formula against an independent
computation, missing weights, and the CLI."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from restore_ray.datasets import TEST_SOURCES, builtin_crops
from restore_ray.names import DEGRADATIONS
from tool_actors.base import UnavailableError
from tool_actors.learned import cards
from tool_actors.learned import distortions as X
from tool_actors.learned.calibration import Logistic4
from tool_actors.learned.data import sharpening_pair
from tool_actors.learned.nets import DetectorConfig, DetectorNet, JudgeConfig, JudgeNet
from tool_actors.learned.train_detector import DETECTOR_NAME
from tool_actors.learned.train_sharpening import (
    SHARPENING_NAME,
    SharpeningTrainConfig,
    pair_loss,
    train_sharpening,
)
from tool_actors.registry import SCORERS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TINY = {"widths": (8, 8, 16, 16), "init_from_detector": False, "patch": 48, "eval_patch": 48, "val_pairs": 12,
        "eval_pairs": 8, "warmup": 5}


def test_sharpening_pairs_are_labelled_by_what_sharpening_did_to_psnr() -> None:
    rng = np.random.default_rng(0)
    clean = builtin_crops("train", 1, 64, seed=0)[0]
    labels = []
    for _ in range(40):
        picture, sharpened, harmful = sharpening_pair(clean, rng)
        assert picture.shape == sharpened.shape == clean.shape and sharpened.dtype == np.uint8
        assert not np.array_equal(picture, sharpened)
        assert harmful == (X.psnr(clean, sharpened) < X.psnr(clean, picture))
        if np.array_equal(picture, clean):
            assert harmful  # sharpening a sharp picture never brings it closer to itself
        labels.append(harmful)
    assert any(labels) and not all(labels)  # sharpening helps some blurred pictures


def test_pair_loss_is_cross_entropy_plus_ranking_on_harmful_pairs() -> None:
    z = torch.tensor([0.5, 1.5, -1.0, -2.0])  # (picture, sharpened) × 2
    labels = torch.tensor([0.0, 1.0, 0.0, 0.0])  # the first sharpening harmful, the second not
    loss, parts = pair_loss(z, labels, rank_weight=2.0)
    sp = torch.nn.functional.softplus
    bce = (sp(torch.tensor(0.5)) + sp(torch.tensor(-1.5)) + sp(torch.tensor(-1.0)) + sp(torch.tensor(-2.0))) / 4
    rank = sp(torch.tensor(0.5 - 1.5))  # only the harmful pair is ranked
    assert parts["bce"] == pytest.approx(float(bce), abs=1e-6) and parts["rank"] == pytest.approx(float(rank), abs=1e-6)
    assert float(loss) == pytest.approx(float(bce + 2.0 * rank), abs=1e-6)
    _, none = pair_loss(z, torch.zeros(4), rank_weight=2.0)
    assert none["rank"] == 0.0


def test_tiny_sharpening_training_learns(tmp_path: Path) -> None:
    cfg = SharpeningTrainConfig(steps=40, pairs=4, lr=3e-3, eval_every=20, seed=1, **TINY)
    steps: list[int] = []
    card = train_sharpening(cfg, tmp_path / "learned", lambda step, total, parts: steps.append(step))
    assert steps == list(range(1, 41))
    val_loss = [v for _, v in card["held_out_checks"]["val_loss"]]  # fixed held-out pairs, steps 0, 20, 40
    assert len(val_loss) == 3 and val_loss[-1] < 0.9 * val_loss[0]
    saved = json.loads((tmp_path / "learned" / f"{SHARPENING_NAME}.json").read_text())
    assert saved["labels"] == ["harmful_sharpening"] and saved["human_labels"] is False
    assert saved["trunk_from"] is None and not set(saved["data"]["pictures"]) & set(TEST_SOURCES)
    assert {"accuracy", "rise_harmful", "rise_helpful", "harmful_share"} <= set(saved["measured"])
    assert (tmp_path / "learned" / f"{SHARPENING_NAME}.curve.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="--pairs"):
        train_sharpening(SharpeningTrainConfig(steps=1, pairs=0, **TINY), tmp_path / "other")


def test_the_trunk_starts_from_the_shipped_detector(tmp_path: Path) -> None:
    from tool_actors.learned.train_sharpening import initial_trunk

    model = DetectorNet(DetectorConfig(outputs=1))
    shipped, _ = cards.load(cards.weights_path(DETECTOR_NAME), "DetectorNet")
    trunk = initial_trunk(model, "cpu")
    path = cards.weights_path(DETECTOR_NAME)
    assert trunk == {"file": f"{DETECTOR_NAME}.safetensors", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    # the shipped sharpening network names the shipped detector as the trunk it started from
    assert cards.read_card(cards.weights_path(SHARPENING_NAME))["trunk_from"] == trunk
    for mine, theirs in zip(model.stages.state_dict().values(), shipped.stages.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs)
    with pytest.raises(ValueError, match="no-init-from-detector"):
        initial_trunk(DetectorNet(DetectorConfig(outputs=1, widths=(8, 8, 16, 16))), "cpu")


def _random_judges(root: Path) -> None:
    for k, member in enumerate(("judge-rank", "judge-detail")):
        torch.manual_seed(k)
        net = JudgeNet(JudgeConfig(widths=(8, 8, 16, 16))).eval()
        cards.save(net, root / member, {"calibration": Logistic4(1, 5, 0.1 * k, 0.05).to_dict()})
    torch.manual_seed(2)
    cards.save(DetectorNet(DetectorConfig(widths=(8, 8, 16, 16))).eval(), root / DETECTOR_NAME,
               {"labels": list(DEGRADATIONS)})


def test_judge_quartet_is_the_trio_less_the_sharpening_probability(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tool_actors.learned.judge import (
        GUARD_LABELS,
        GUARD_WEIGHT,
        QUARTET,
        SHARPENING_WEIGHT,
        TRIO,
        GuardedJudge,
        SharpeningDetector,
    )

    monkeypatch.setenv("RESTORE_RAY_WEIGHTS", str(tmp_path))
    _random_judges(tmp_path / "learned")
    torch.manual_seed(3)
    sharpening = DetectorNet(DetectorConfig(outputs=1, widths=(8, 8, 16, 16))).eval()
    cards.save(sharpening, tmp_path / "learned" / SHARPENING_NAME, {"labels": ["harmful_sharpening"]})
    entry = SCORERS.get(QUARTET)
    assert entry.embedded and entry.extra["sharpening_weight"] == SHARPENING_WEIGHT > 0
    quartet, trio = SCORERS.build(QUARTET), SCORERS.build(TRIO)
    low = 1 - GUARD_WEIGHT * len(GUARD_LABELS) - SHARPENING_WEIGHT
    assert tuple(quartet.score_range) == tuple(entry.extra["score_range"]) == (low, 5)
    images = np.stack(builtin_crops("train", 3, 48, seed=1))
    with torch.no_grad():
        z = sharpening(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0).numpy()[:, 0]
    penalty = SHARPENING_WEIGHT / (1 + np.exp(-z.astype(np.float64)))
    assert penalty.min() > 0.01
    np.testing.assert_allclose(quartet(images), trio(images) - penalty, rtol=1e-5, atol=1e-5)
    assert trio.sharpening is None  # judge-trio reads no sharpening network
    with pytest.raises(ValueError, match="sharpening weight"):
        GuardedJudge(sharpening_weight=-1.0)
    cards.save(DetectorNet(DetectorConfig(outputs=2, widths=(8, 8, 16, 16))), tmp_path / "learned" / SHARPENING_NAME,
               {"labels": ["a", "b"]})
    with pytest.raises(ValueError, match="train-sharpening"):
        SharpeningDetector(tmp_path)
    (tmp_path / "learned" / f"{SHARPENING_NAME}.json").unlink()
    with pytest.raises(UnavailableError, match=f"{SHARPENING_NAME}.json"):
        SCORERS.build(QUARTET)
    SCORERS.build(TRIO)  # the trio does not need it


def test_shipped_sharpening_detector_rises_when_sharpening_a_motion_blur_lowers_psnr() -> None:
    """On the unseen test photographs: unsharp masking (amount 1, σ 1.5, as bench/learned.py applies it)
    of a motion-blurred crop raises the probability; of the clean crop too."""
    from restore_ray import degradations as D
    from tool_actors.learned.judge import SharpeningDetector

    detector = SharpeningDetector()
    rng = np.random.default_rng(0)
    rises = []
    for clean in builtin_crops("test", 4, 192, seed=2):
        blurred, _ = D.degrade(clean, ["motion_blur"], rng)
        sharpened = X.unsharp(blurred, 1.0, 1.5)
        p = detector.probabilities(np.stack([blurred, sharpened]))
        if X.psnr(clean, sharpened) < X.psnr(clean, blurred):
            rises.append(p[1] - p[0])
    assert len(rises) >= 2 and np.mean(rises) > 0.05


def test_cli_judge_train_sharpening_writes_the_network_and_its_defaults_are_the_shipped_recipe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import tool_actors.learned.train_sharpening as TS
    from restore_ray.cli import app

    result = CliRunner().invoke(app, ["judge", "train-sharpening", "--out", str(tmp_path), "--steps", "2",
                                      "--pairs", "1", "--patch", "32", "--no-init-from-detector"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / f"{SHARPENING_NAME}.json").read_text())
    assert card["steps"] == 2 and card["command"].startswith("restore-ray judge train-sharpening --out")
    assert card["command"].endswith("--no-init-from-detector") and card["trunk_from"] is None

    commands = []

    def fake(cfg: object, out: Path, report: object = None, command: str | None = None) -> dict:
        commands.append(command)
        return {"name": SHARPENING_NAME, "parameters": 1, "weights_bytes": 4, "training_seconds": 1.0, "measured": {}}

    monkeypatch.setattr(TS, "train_sharpening", fake)
    shipped = json.loads((cards.SHIPPED_DIR / f"{SHARPENING_NAME}.json").read_text())["command"]
    threads = re.search(r"--threads (\d+)", shipped)
    extra = ["--threads", threads.group(1)] if threads else []
    result = CliRunner().invoke(app, ["judge", "train-sharpening", "--out", str(tmp_path), *extra])
    assert result.exit_code == 0, result.output
    assert re.sub(r" --out \S+", "", commands[0]) == re.sub(r" --out \S+", "", shipped)
