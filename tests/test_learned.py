"""The learned judge and experts: tiny trainings that learn, the shipped weights that work, and the
tool/scorer contracts (shapes, dtypes, determinism, batch = single, any size)."""

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
from tool_actors.learned import cards
from tool_actors.learned import distortions as X
from tool_actors.learned.calibration import Logistic4
from tool_actors.learned.data import CleanPatches, expert_pair, fr_level, judge_group, recolour
from tool_actors.learned.experts import SHIPPED, LearnedExpert
from tool_actors.learned.judge import JudgeEnsemble, LearnedJudge
from tool_actors.learned.nets import ExpertConfig, ExpertNet, JudgeConfig, JudgeNet, tone_statistics
from tool_actors.learned.toolbox import load_toolbox
from tool_actors.learned.train_expert import EXPERT_NAMES, ExpertTrainConfig, train_expert
from tool_actors.learned.train_judge import JudgeTrainConfig, train_judge
from tool_actors.learned.training import to_tensor
from tool_actors.registry import SCORERS, TOOLS


@pytest.fixture(autouse=True)
def _restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def test_crops() -> list[np.ndarray]:
    """Clean 128-pixel crops of the TEST photographs (never seen in training)."""
    return builtin_crops("test", 4, 128, seed=11)


@pytest.fixture(scope="module")
def judge() -> LearnedJudge:
    return SCORERS.build("judge-small")


# ------------------------------------------------------------------------------- tiny trainings
def test_tiny_judge_training_learns_and_round_trips(tmp_path: Path) -> None:
    cfg = JudgeTrainConfig(steps=40, batch_size=2, patch=32, lr=3e-3, warmup=5, widths=(8, 8, 16, 16),
                           eval_every=20, val_groups=6, eval_groups=8, eval_patch=32, seed=1, toolbox=False)
    steps: list[int] = []
    card = train_judge(cfg, tmp_path / "learned", lambda step, total, parts: steps.append(step))
    assert steps == list(range(1, 41))
    val_loss = [v for _, v in card["held_out_checks"]["val_loss"]]  # fixed held-out groups, steps 0, 20, 40
    assert len(val_loss) == 3 and val_loss[-1] < 0.7 * val_loss[0]
    saved = json.loads((tmp_path / "learned" / "judge-small.json").read_text())
    for key in ("data", "settings", "seed", "steps", "measured", "date", "training_seconds", "calibration"):
        assert key in saved
    assert saved["data"]["pictures"] == list(TRAIN_SOURCES) and not set(saved["data"]["pictures"]) & set(TEST_SOURCES)
    assert saved["weights_bytes"] == (tmp_path / "learned" / "judge-small.safetensors").stat().st_size
    assert (tmp_path / "learned" / "judge-small.curve.png").stat().st_size > 1000
    assert card["human_labels"] is False
    # the trained file replaces the shipped one when it sits in <weights dir>/learned/
    scorer = LearnedJudge(weights_dir=tmp_path)
    assert scorer.weights_path == tmp_path / "learned" / "judge-small.safetensors"
    assert scorer.model.config.widths == (8, 8, 16, 16) and scorer.model.config.tone_stats
    s = scorer(np.stack(builtin_crops("train", 2, 40, seed=0)))
    assert s.dtype == np.float32 and s.shape == (2,) and np.all((s > 1) & (s < 5))


def test_tiny_expert_training_learns(tmp_path: Path) -> None:
    cfg = ExpertTrainConfig(category="dejpeg", steps=60, batch_size=8, patch=32, lr=5e-3, warmup=5,
                            widths=(8, 16), blocks=(1, 1), eval_every=30, val_pairs=8, eval_pairs=4, eval_patch=32,
                            seed=1)
    card = train_expert(cfg, tmp_path / "learned")
    val_loss = [v for _, v in card["held_out_checks"]["val_loss"]]  # fixed held-out pairs, steps 0, 30, 60
    assert len(val_loss) == 3 and val_loss[-1] < 0.97 * val_loss[0]
    tool = LearnedExpert("dejpeg", weights_dir=tmp_path)
    assert tool.model.config.widths == (8, 16) and tool.card["category"] == "dejpeg"
    out = tool(np.stack(builtin_crops("train", 2, 24, seed=0)))
    assert out.shape == (2, 24, 24, 3) and out.dtype == np.uint8


def test_an_expert_without_shipped_weights_loads_from_the_weights_folder(tmp_path: Path) -> None:
    """``tools train deblur_motion --out DIR/learned`` makes the registered tool available with --weights DIR."""
    name = EXPERT_NAMES["deblur_motion"]
    entry = TOOLS.get(name)
    assert not entry.embedded and entry.category == "deblur_motion"
    ok, reason = entry.availability(tmp_path)
    assert not ok and f"learned/{name}.safetensors" in reason
    with pytest.raises(UnavailableError, match="tools train|learned/"):
        TOOLS.build(name, weights_dir=tmp_path)
    cfg = ExpertTrainConfig(category="deblur_motion", steps=2, batch_size=2, patch=32, widths=(8, 16), blocks=(1, 1),
                            eval_every=2, val_pairs=2, eval_pairs=2, eval_patch=32, seed=0)
    train_expert(cfg, tmp_path / "learned")
    assert entry.availability(tmp_path) == (True, "ok")
    tool = TOOLS.build(name, weights_dir=tmp_path)
    out = tool(np.stack(builtin_crops("train", 2, 24, seed=0)))
    assert out.shape == (2, 24, 24, 3) and out.dtype == np.uint8


def test_expert_training_rejects_unknown_category_and_bad_patch(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no expert for category 'dehaze'"):
        train_expert(ExpertTrainConfig(category="dehaze", steps=1), tmp_path)
    with pytest.raises(ValueError, match="multiple of 8"):
        train_expert(ExpertTrainConfig(category="dejpeg", steps=1, patch=36), tmp_path)


# ------------------------------------------------------------------------------- shipped judge
def test_judge_is_registered_as_embedded_higher_is_better() -> None:
    entry = SCORERS.get("judge-small")
    assert entry.embedded and entry.backend == "neural" and entry.availability() == (True, "ok")
    scorer = SCORERS.build("judge-small")
    assert scorer.higher_is_better and scorer.score_range == (1.0, 5.0)
    assert scorer.weights_path.parent == cards.SHIPPED_DIR
    assert scorer.weights_path.stat().st_size <= 5_000_000


def test_shipped_judge_scores_clean_above_degraded(judge: LearnedJudge) -> None:
    """Six unseen TEST crops (256²) × the seven degradations at the paper's strengths: the clean crop
    scores higher in at least 70 % of the 42 pairs (≈ 76 % here; bench/learned.py: 81 % on single
    degradations and 97 % on mixtures of the test records — a light JPEG or blur on an unfamiliar,
    soft photograph is the judge's known weak spot), every degradation but JPEG is caught on at least
    half of the crops, and JPEG on at least one."""
    rng = np.random.default_rng(5)
    clean = np.stack(builtin_crops("test", 6, 256, seed=11))
    s_clean = judge(clean)
    wins = {}
    for name in DEGRADATIONS:
        degraded = np.stack([D.degrade(c, [name], rng)[0] for c in clean])
        wins[name] = s_clean > judge(degraded)
    share = float(np.mean(list(wins.values())))
    assert share >= 0.70, f"clean above degraded in {share:.0%} of pairs: { {k: v.tolist() for k, v in wins.items()} }"
    assert all(v.sum() >= (1 if k == "jpeg" else 3) for k, v in wins.items()), wins


def test_shipped_judge_does_not_pay_for_stretching_a_clean_photograph(judge: LearnedJudge) -> None:
    """Contrast stretching and dehazing an unseen, already clean photograph lower PSNR by 4–8 dB;
    the judge must not call that an improvement (its first version, trained without soft
    references, paid +0.4 for CLAHE on every one of these crops)."""
    clean = np.stack(builtin_crops("test", 6, 256, seed=11))
    s_clean = judge(clean)
    for name in ("clahe", "dcp-dehaze-strong"):
        tool = TOOLS.build(name)
        gain = judge(np.stack([tool(c[None])[0] for c in clean])) - s_clean
        assert float(np.mean(gain)) < 0.02 and float(np.mean(gain > 0)) <= 0.5, (name, gain.round(3).tolist())


def test_shipped_judge_orders_severity_and_over_processing(judge: LearnedJudge, test_crops: list[np.ndarray]) -> None:
    clean = test_crops[2]
    noise = [X.graded_degradation("noise", clean, s, 3) for s in (0.1, 0.5, 1.0)]
    s = judge(np.stack([clean] + noise))
    assert s[0] > s[1] > s[2] > s[3]
    sharpened = X.oversharpen(clean, 0.8)
    assert judge(clean[None])[0] > judge(sharpened[None])[0]


def test_judge_contract_any_size_batch_equals_single_deterministic(judge: LearnedJudge,
                                                                   test_crops: list[np.ndarray]) -> None:
    batch = np.stack([c[:37, :53] for c in test_crops])
    s = judge(batch)
    assert s.shape == (4,) and s.dtype == np.float32 and np.all(np.isfinite(s))
    singles = np.concatenate([judge(im[None]) for im in batch])
    assert np.array_equal(s, singles)
    assert np.array_equal(s, judge(batch.copy()))
    tiny = judge(test_crops[0][:5, :7][None])  # padded up to the network's minimum
    assert tiny.shape == (1,) and 1.0 < tiny[0] < 5.0
    assert judge.normalised(s).shape == (4,)


# ------------------------------------------------------------------------------ shipped experts
@pytest.mark.parametrize("category", SHIPPED)
def test_shipped_expert_is_registered_embedded(category: str) -> None:
    entry = TOOLS.get(EXPERT_NAMES[category])
    assert entry.embedded and entry.backend == "neural" and entry.category == category
    tool = TOOLS.build(entry.name)
    assert tool.weights_path.parent == cards.SHIPPED_DIR and tool.weights_path.stat().st_size <= 5_000_000


def _degrade_for(category: str, clean: np.ndarray, k: int) -> np.ndarray:
    if category == "dejpeg":
        return D.apply_jpeg(clean, (12, 25)[k % 2])
    if category == "deblur_defocus":
        return D.apply_defocus_blur(clean, (3, 4)[k % 2], 0.5)
    return D.apply_motion_blur(clean, 10, 3.0, (20.0, -60.0)[k % 2])


@pytest.mark.parametrize("category", SHIPPED)
def test_shipped_expert_improves_psnr(category: str, test_crops: list[np.ndarray]) -> None:
    tool = TOOLS.build(EXPERT_NAMES[category])
    for k, clean in enumerate(test_crops[:2]):
        degraded = _degrade_for(category, clean, k)
        restored = tool(degraded[None])[0]
        assert X.psnr(clean, restored) > X.psnr(clean, degraded) + 0.3


@pytest.mark.parametrize("category", SHIPPED)
def test_expert_any_size_batch_equals_single_and_tiles(category: str, test_crops: list[np.ndarray]) -> None:
    tool = TOOLS.build(EXPERT_NAMES[category])
    batch = np.stack([c[:45, :61] for c in test_crops[:3]])
    out = tool(batch)
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.array_equal(out, np.stack([tool(im[None])[0] for im in batch]))
    assert np.array_equal(tool(np.zeros((1, 1, 1, 3), np.uint8)).shape, (1, 1, 1, 3))
    # a large image goes through overlapping tiles; the seams stay invisible next to a whole-image pass
    big = np.concatenate([np.concatenate([test_crops[0], test_crops[1]], axis=1)] * 2, axis=0)
    big = np.concatenate([big, big[:, :100]], axis=1)  # 256 × 356
    tool.tile, tool.overlap = 128, 24  # force tiling on this image
    try:
        tiled = tool(big[None])[0]
    finally:
        tool.tile, tool.overlap = LearnedExpert.tile, LearnedExpert.overlap
    whole = tool(big[None])[0]
    assert X.psnr(whole, tiled) > 40.0


# ------------------------------------------------------------------------------ pieces
def test_calibration_is_monotone_and_refits() -> None:
    true = Logistic4(1.2, 4.7, 0.5, 0.8)
    raw = np.linspace(-3, 4, 200)
    fitted = Logistic4.fit(raw, true(raw))
    assert np.allclose(fitted(raw), true(raw), atol=1e-3)
    assert np.all(np.diff(fitted(raw)) > 0)
    assert Logistic4.from_dict(fitted.to_dict()) == fitted
    with pytest.raises(ValueError, match="lo < hi"):
        Logistic4(4.0, 2.0, 0.0, 1.0)


def test_cards_reject_wrong_architecture_and_missing_card(tmp_path: Path) -> None:
    path, card_path = cards.save(ExpertNet(ExpertConfig(widths=(8,), blocks=(1,))), tmp_path / "x", {"category": "dejpeg"})
    with pytest.raises(UnavailableError, match="holds a ExpertNet, expected a JudgeNet"):
        cards.load(path, "JudgeNet")
    model, card = cards.load(path, "ExpertNet")
    assert card["parameters"] == sum(p.numel() for p in model.parameters())
    card_path.unlink()
    with pytest.raises(UnavailableError, match="missing card"):
        cards.load(path, "ExpertNet")
    assert "missing" in (cards.missing_reason("no-such-model") or "")


def test_judge_group_orders_are_consistent() -> None:
    rng = np.random.default_rng(0)
    clean = CleanPatches(patch=48).sample(rng)
    g = judge_group(clean, rng)
    assert g.tags[0] == "clean" and g.level[0] == 5.0
    assert all(im.shape == clean.shape and im.dtype == np.uint8 for im in g.images)
    assert {(0, i) for i in range(1, len(g.images))} <= {(i, j) for i, j, _ in g.pairs}
    for i, j, structural in g.pairs:
        assert i != j
        if not structural:  # full-reference pairs: PSNR and SSIM agree
            assert g.psnr[i] > g.psnr[j] and g.ssim[i] > g.ssim[j]
    assert fr_level(float("inf"), 1.0) == 5.0 and fr_level(5.0, 0.0) == 1.0


def test_level_psnr_weight_moves_the_level_between_ssim_and_psnr() -> None:
    assert fr_level(25.0, 0.9) == pytest.approx(1 + 4 * (0.5 * 0.9 + 0.5 * 0.5))
    assert fr_level(25.0, 0.9, psnr_weight=1.0) == pytest.approx(3.0)  # PSNR alone: (25 − 10) / 30 = ½
    assert fr_level(25.0, 0.9, psnr_weight=0.0) == pytest.approx(1 + 4 * 0.9)
    with pytest.raises(ValueError, match="psnr_weight"):
        fr_level(25.0, 0.9, psnr_weight=1.5)
    clean = CleanPatches(patch=48).sample(np.random.default_rng(2))
    g = judge_group(clean, np.random.default_rng(4), psnr_weight=0.75)
    assert g.level == [pytest.approx(fr_level(p, s, 0.75)) for p, s in zip(g.psnr, g.ssim)]
    assert g.pairs == judge_group(clean, np.random.default_rng(4)).pairs  # the weight moves levels, not orders


def test_soft_reference_is_softer_flatter_and_ranks_its_sharpening_below_it() -> None:
    from tool_actors.learned.data import soft_reference

    rng = np.random.default_rng(5)
    clean = CleanPatches(patch=64).sample(rng)
    soft = soft_reference(clean, rng)
    assert soft.shape == clean.shape and soft.dtype == np.uint8

    def detail(x: np.ndarray) -> float:
        return float(np.abs(np.diff(x.astype(np.float32), axis=1)).mean())

    assert detail(soft) < 0.9 * detail(clean) and soft.std() <= clean.std() + 1
    assert abs(float(soft.mean()) - float(clean.mean())) < 2  # contrast about the mean: brightness kept
    g = judge_group(soft, rng)  # the soft picture is the group's clean reference
    usm = g.tags.index("usm")
    assert g.level[0] == 5.0 and (0, usm) in {(i, j) for i, j, _ in g.pairs}


def test_tiny_judge_training_with_soft_references_records_the_settings(tmp_path: Path) -> None:
    cfg = JudgeTrainConfig(steps=4, batch_size=2, patch=32, warmup=1, widths=(8, 8, 16, 16), eval_every=4,
                           val_groups=2, eval_groups=3, eval_patch=32, toolbox=False, soft_references=0.5,
                           level_psnr_weight=0.75)
    card = train_judge(cfg, tmp_path, command="restore-ray judge train --soft-references 0.5 --level-psnr-weight 0.75")
    assert card["settings"]["soft_references"] == 0.5 and card["steps"] == 4
    assert card["settings"]["level_psnr_weight"] == 0.75


def test_judge_group_with_toolbox_holds_tool_outputs() -> None:
    toolbox = load_toolbox(["bilateral", "gamma-2-3", "dcp-dehaze"])
    assert [t.degradation for t in toolbox] == ["noise", "dark", "haze"]
    rng = np.random.default_rng(3)
    clean = CleanPatches(patch=48).sample(rng)
    g = judge_group(clean, rng, toolbox, tool_outputs=3)
    tools = [t for t in g.tags if t.startswith("tool:")]
    assert len(tools) == 3 and sum(">" in t for t in tools) == 1  # two on the degraded patch, one chained
    assert "usm" in g.tags
    for tag, image in zip(g.tags, g.images):
        if tag.startswith("tool:") and ">" not in tag:  # exactly the tool's output on the fully degraded version
            full = max(i for i, t in enumerate(g.tags) if t.startswith("chain:"))
            tool = next(t for t in toolbox if t.name == tag.split(":")[1])
            assert np.array_equal(image, tool(g.images[full]))
    with pytest.raises(ValueError, match="learned experts"):
        load_toolbox(["dejpeg-small"])
    with pytest.raises(ValueError, match="at least 2"):
        judge_group(clean, rng, toolbox, tool_outputs=1)


def test_recolour_keeps_structure_and_tone_statistics_read_tone() -> None:
    rng = np.random.default_rng(0)
    patch = builtin_crops("train", 1, 32, seed=0)[0]
    for _ in range(10):
        out = recolour(patch, rng)
        assert out.shape == patch.shape and out.dtype == np.uint8
        assert abs(float(out.astype(float).mean()) - float(patch.astype(float).mean())) < 40
    black = torch.zeros(1, 3, 16, 16)
    white = torch.ones(1, 3, 16, 16)
    tb, tw = tone_statistics(black)[0], tone_statistics(white)[0]
    assert tb.shape == (11,) and torch.all(tb[:7] == 0) and tb[7] == 1 and tb[8] == 0
    assert torch.allclose(tw[:7], torch.ones(7)) and tw[7] == 0 and tw[8] == 1 and tw[9] < 1e-6


def test_expert_pairs_keep_other_degradations() -> None:
    rng = np.random.default_rng(2)
    patches = CleanPatches(patch=48)
    for _ in range(6):
        degraded, target = expert_pair("dejpeg", patches.sample(rng), rng)
        assert degraded.shape == target.shape == (48, 48, 3)
        # the input is exactly the target through JPEG at some quality: nothing else was changed
        assert any(np.array_equal(degraded, D.apply_jpeg(target, q)) for q in range(5, 61))
    for category in ("deblur_defocus", "deblur_motion"):
        degraded, target = expert_pair(category, patches.sample(rng), rng)
        assert degraded.dtype == np.uint8 and X.psnr(target, degraded) < 45


def test_clean_patches_from_a_folder_and_errors(tmp_path: Path) -> None:
    from restore_ray.imageio import write_image

    for i, crop in enumerate(builtin_crops("train", 2, 64, seed=0)):
        write_image(tmp_path / f"{i}.png", crop)
    patches = CleanPatches(tmp_path, patch=32)
    assert patches.sample(np.random.default_rng(0)).shape == (32, 32, 3)
    assert patches.describe()["pictures"] == ["0.png", "1.png"]
    with pytest.raises(ValueError, match="smaller than the 96-pixel patch"):
        CleanPatches(tmp_path, patch=96)
    with pytest.raises(ValueError, match="not a folder"):
        CleanPatches(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no images found"):
        CleanPatches(empty)


def test_package_photographs_are_clean_colour_and_never_test_pictures(monkeypatch: pytest.MonkeyPatch) -> None:
    from restore_ray import datasets

    patches = CleanPatches("builtin+photos", patch=96)
    assert patches.names == list(TRAIN_SOURCES) + list(datasets.PACKAGE_PHOTOS)
    assert not set(patches.names) & set(TEST_SOURCES)
    assert patches.describe()["source"] == "builtin+photos"
    for name, picture in zip(patches.names[len(TRAIN_SOURCES):], patches.pictures[len(TRAIN_SOURCES):]):
        assert picture.dtype == np.uint8 and picture.ndim == 3, name
        assert min(picture.shape[:2]) in (384, 512), name  # downscaled to the builtin photographs' scale
        assert X.psnr(picture, picture[..., ::-1]) < 40, f"{name} is not a colour photograph"
        assert 40 < picture.mean() < 200 and picture.std() > 30, f"{name} is too dark, bright or flat to be clean"
    # a broken install says which file and what to do
    monkeypatch.setitem(datasets.PACKAGE_PHOTOS, "kodak-I03",
                        datasets._package_file("pyiqa", "ResultsCalibra/ref_dir/missing.bmp"))
    with pytest.raises(FileNotFoundError, match=r"missing\.bmp.*pyiqa.*reinstall"):
        CleanPatches("builtin+photos", patch=96)


def test_nets_accept_their_minimum_sizes() -> None:
    judge_net = JudgeNet(JudgeConfig(widths=(8, 8, 16, 16), tone_stats=True)).eval()
    expert_net = ExpertNet(ExpertConfig(widths=(8, 16), blocks=(1, 1))).eval()
    with torch.no_grad():
        assert judge_net(torch.rand(3, 3, 16, 24)).shape == (3,)
        assert expert_net(torch.rand(2, 3, 8, 16)).shape == (2, 3, 8, 16)


def test_cli_tools_train_rejects_unknown_category() -> None:
    from typer.testing import CliRunner

    from restore_ray.cli import app

    result = CliRunner().invoke(app, ["tools", "train", "dehaze", "--out", "/tmp/unused"])
    assert result.exit_code != 0 and "no learned expert for 'dehaze'" in result.output


@pytest.mark.parametrize("option, value, message", [("--widths", "16,24,48", "four positive"),
                                                    ("--widths", "16,x,48,64", "comma-separated integers"),
                                                    ("--name", "../judge", "names the weights file")])
def test_cli_judge_train_rejects_bad_widths_and_names(option: str, value: str, message: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from restore_ray.cli import app

    result = CliRunner().invoke(app, ["judge", "train", "--out", str(tmp_path), option, value])
    assert result.exit_code != 0 and message in " ".join(result.output.split())
    assert not any(tmp_path.iterdir())  # refused before any training


def test_cli_judge_train_records_only_the_options_that_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import tool_actors.learned.train_judge as TJ
    from restore_ray.cli import app

    seen = {}

    def fake_train(cfg: JudgeTrainConfig, out: Path, report: object = None, command: str | None = None) -> dict:
        seen.update(cfg=cfg, command=command)
        return {"name": cfg.name, "parameters": 1, "weights_bytes": 4, "training_seconds": 1.0, "measured": {}}

    monkeypatch.setattr(TJ, "train_judge", fake_train)
    base = ["judge", "train", "--out", str(tmp_path), "--steps", "7"]
    result = CliRunner().invoke(app, base)
    assert result.exit_code == 0, result.output
    # the defaults are judge-small's recipe (its card's command line)
    recipe = JudgeTrainConfig(data="builtin+photos", steps=7, batch_size=5, soft_references=0.4)
    assert seen["command"].endswith("--lr 0.001 --soft-references 0.4") and seen["cfg"] == recipe
    flags = ["--soft-references", "0.4", "--level-psnr-weight", "0.75", "--average-from", "0.25",
             "--widths", "16,24,48,64", "--no-toolbox", "--structural-weight", "3", "--detail-stats", "--block-stats",
             "--sharpening-pairs", "--name", "judge-detail", "--workers", "3"]
    result = CliRunner().invoke(app, base + flags)
    assert result.exit_code == 0, result.output
    cfg, command = seen["cfg"], seen["command"]
    assert (cfg.soft_references, cfg.level_psnr_weight, cfg.average_from, cfg.widths, cfg.toolbox,
            cfg.structural_weight, cfg.detail_stats, cfg.block_stats, cfg.sharpening_pairs, cfg.name, cfg.workers) == (
        0.4, 0.75, 0.25, (16, 24, 48, 64), False, 3.0, True, True, True, "judge-detail", 3)
    for flag in ("--soft-references 0.4", "--level-psnr-weight 0.75", "--average-from 0.25", "--widths 16,24,48,64",
                 "--no-toolbox", "--structural-weight 3", "--detail-stats", "--block-stats", "--sharpening-pairs",
                 "--name judge-detail", "--workers 3"):
        assert flag in command
    assert "--tone-branch" not in command and "--no-tone-stats" not in command
    assert CliRunner().invoke(app, base).exit_code == 0 and "--workers" not in seen["command"]


def test_cli_training_defaults_are_the_shipped_recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`restore-ray judge train --out DIR` and `encoders train --out DIR` rebuild judge-small and detect-small: their
    default command lines are the shipped cards' commands (up to --out)."""
    import re

    from typer.testing import CliRunner

    import tool_actors.learned.train_detector as TD
    import tool_actors.learned.train_judge as TJ
    from restore_ray.cli import app

    commands = {}

    def fake(name: str):
        def train(cfg: object, out: Path, report: object = None, command: str | None = None) -> dict:
            commands[name] = command
            return {"name": name, "parameters": 1, "weights_bytes": 4, "training_seconds": 1.0, "measured": {}}
        return train

    monkeypatch.setattr(TJ, "train_judge", fake("judge-small"))
    monkeypatch.setattr(TD, "train_detector", fake("detect-small"))
    for argv in (["judge", "train"], ["encoders", "train"]):
        result = CliRunner().invoke(app, [*argv, "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
    assert set(commands) == {"judge-small", "detect-small"}
    for name, command in commands.items():
        shipped = json.loads((cards.SHIPPED_DIR / f"{name}.json").read_text())["command"]
        assert re.sub(r" --out \S+", "", command) == re.sub(r" --out \S+", "", shipped)


def test_batch_stream_draws_in_turn_without_workers_and_per_step_seeds_with_any_number_of_them() -> None:
    from operator import methodcaller

    from tool_actors.learned.training import WORKER_STREAM, batch_stream

    make = methodcaller("random", 3)  # picklable, as the spawned workers need
    in_turn = list(batch_stream(make, 5, 7, np.random.default_rng(1), workers=0))
    rng = np.random.default_rng(1)
    assert all(np.array_equal(a, rng.random(3)) for a in in_turn)  # the stream the shipped models were trained on
    per_step = [np.random.default_rng(np.random.SeedSequence([7, WORKER_STREAM, i])).random(3) for i in range(5)]
    for workers in (1, 2):
        drawn = list(batch_stream(make, 5, 7, np.random.default_rng(1), workers=workers))
        assert len(drawn) == 5
        assert all(isinstance(a, np.ndarray) and np.array_equal(a, b) for a, b in zip(drawn, per_step, strict=True))
    with pytest.raises(ValueError, match="workers"):
        batch_stream(make, 5, 7, rng, workers=-1)


class _UnloadableBatches:
    """A batch maker that pickles but cannot be rebuilt in a worker process."""

    def __init__(self) -> None:
        self.size = 2

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        return rng.random(self.size)

    def __setstate__(self, state: dict) -> None:
        raise ImportError("cannot rebuild the batch maker in this process")


def test_a_data_worker_that_dies_is_explained() -> None:
    from tool_actors.learned.training import batch_stream

    with pytest.raises(RuntimeError, match="data worker process died.*importable.*--workers 0"):
        list(batch_stream(_UnloadableBatches(), 3, 0, np.random.default_rng(0), workers=1))


def test_data_workers_run_one_thread_each_and_leave_the_parent_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    from functools import partial

    from tool_actors.learned.training import THREAD_VARIABLES, batch_stream

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    for name in THREAD_VARIABLES:  # os.getenv(name, rng) in the worker: its own environment
        assert list(batch_stream(partial(os.getenv, name), 1, 0, np.random.default_rng(0), workers=1)) == ["1"]
    assert (os.environ["OMP_NUM_THREADS"], os.environ.get("OPENBLAS_NUM_THREADS")) == ("2", None)


def test_trainers_give_the_same_model_for_any_number_of_data_workers(tmp_path: Path) -> None:
    from tool_actors.learned.train_detector import DetectorTrainConfig, train_detector

    tiny = {"steps": 4, "batch_size": 2, "patch": 64, "eval_patch": 64, "val_samples": 2, "eval_samples": 2,
            "eval_every": 2, "widths": (8, 8, 16, 16), "warmup": 1}
    losses = {}
    for workers in (0, 1, 2):
        card = train_detector(DetectorTrainConfig(workers=workers, **tiny), tmp_path / f"d{workers}")
        losses[workers] = card["final_train_loss"]
        assert card["settings"]["workers"] == workers
    assert losses[1] == losses[2] != losses[0]  # per-step seeds vs the one in-process stream
    judge_tiny = {"steps": 2, "batch_size": 2, "patch": 32, "warmup": 1, "widths": (8, 8, 16, 16), "eval_every": 2,
                  "val_groups": 2, "eval_groups": 3, "eval_patch": 32, "soft_references": 0.5, "toolbox": False}
    judged = [train_judge(JudgeTrainConfig(workers=w, **judge_tiny), tmp_path / f"j{w}")["final_train_loss"]
              for w in (1, 2)]
    assert judged[0] == judged[1]


def test_judge_training_groups_pickle_without_their_tools() -> None:
    import pickle

    from tool_actors.learned.train_judge import TrainingGroups

    toolbox = load_toolbox(["gamma-2-3"])
    groups = TrainingGroups(JudgeTrainConfig(batch_size=2), CleanPatches("builtin", 32), toolbox)
    copy = pickle.loads(pickle.dumps(groups))
    assert copy.toolbox is None and groups.toolbox == toolbox  # the copy builds its own on first use
    a, b = groups(np.random.default_rng(3)), copy(np.random.default_rng(3))
    assert len(a) == len(b) == 2 and all(np.array_equal(x, y) for g, h in zip(a, b) for x, y in zip(g.images, h.images))


@pytest.mark.parametrize("average_from", [0.5, 1.0])
def test_optimise_averages_the_weights_of_the_later_checks(average_from: float) -> None:
    from types import SimpleNamespace

    from tool_actors.learned.training import optimise

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randn(16)
    seen: dict[int, dict[str, torch.Tensor]] = {}

    def batch_loss():
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        return loss, {"loss": loss.item()}

    def check(step: int) -> dict[str, float]:
        seen[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return {}

    cfg = SimpleNamespace(steps=6, lr=0.1, warmup=1, eval_every=2, average_from=average_from)
    optimise(model, opt, cfg, batch_loss, {"loss": []}, check, None)
    kept = [s for step, s in seen.items() if step >= average_from * cfg.steps]
    assert len(kept) == (2 if average_from == 0.5 else 1)  # checks at steps 4 and 6, or the last alone
    for key, value in model.state_dict().items():
        assert torch.allclose(value, sum(s[key] for s in kept) / len(kept), atol=1e-7)
    assert not torch.equal(seen[4]["weight"], seen[6]["weight"])
    with pytest.raises(ValueError, match="average_from"):
        optimise(model, opt, SimpleNamespace(**{**vars(cfg), "average_from": 1.5}), batch_loss, {"loss": []}, check, None)


def test_structural_weight_counts_structural_pairs_more_in_the_ranking_loss() -> None:
    from tool_actors.learned.train_judge import GroupBatch, judge_loss

    batch = GroupBatch(images=torch.zeros(3, 3, 16, 16), levels=torch.tensor([5.0, 3.0, 4.0]),
                       group=torch.zeros(3, dtype=torch.long), pairs=torch.tensor([[0, 1], [2, 1]]),
                       structural=torch.tensor([True, False]))
    s = torch.tensor([1.0, 2.0, 4.0])  # the structural pair is violated, the other one kept
    one = judge_loss(s, batch, 0.0, 0.0, 0.1)[1]["rank_loss"]
    three = judge_loss(s, batch, 0.0, 0.0, 0.1, structural_weight=3.0)[1]["rank_loss"]
    hinge = [0.1 * float(torch.nn.functional.softplus(torch.tensor((m - d) / 0.1))) for m, d in ((2.0, -1.0), (1.0, 2.0))]
    assert one == pytest.approx(sum(hinge) / 2, rel=1e-5)
    assert three == pytest.approx((3 * hinge[0] + hinge[1]) / 4, rel=1e-5) and three > one


def test_detail_statistics_fall_with_blur_and_ignore_contrast() -> None:
    from tool_actors.learned.nets import DETAIL_FEATURES, detail_statistics

    rng = np.random.default_rng(9)
    clean = CleanPatches(patch=96).sample(rng)
    blurred = X.graded_degradation("defocus_blur", clean, 0.6, 1)
    sharpened = X.unsharp(blurred, 1.0, 1.5)
    flat = np.clip(128 + (clean.astype(np.float32) - 128) * 0.5, 0, 255).astype(np.uint8)
    d_clean, d_blur, d_usm, d_flat = detail_statistics(to_tensor([clean, blurred, sharpened, flat], torch.device("cpu")))
    assert d_clean.shape == (DETAIL_FEATURES,)
    assert float(d_blur[0]) < float(d_clean[0]) - 0.5  # the finest level lost against the next one
    assert float(d_usm[0]) < float(d_clean[0]) - 0.3  # sharpening amplifies what is left, it does not restore it
    assert torch.allclose(d_clean, d_flat, atol=0.1)  # halving the contrast moves every level alike


def test_detail_statistics_see_the_direction_of_a_motion_blur() -> None:
    from tool_actors.learned.nets import DETAIL_LEVELS, detail_statistics

    # isotropic texture: anisotropy near 0 (the feature's −0.5 offset); a horizontal motion blur raises it
    texture = (np.random.default_rng(11).random((96, 96, 1)) * 255).astype(np.uint8).repeat(3, axis=2)
    trail = D.apply("motion_blur", texture, radius=8, sigma=4.0, angle=0.0)
    fine = DETAIL_LEVELS - 1  # index of the full-resolution anisotropy
    iso, moved = detail_statistics(to_tensor([texture, trail], torch.device("cpu")))[:, fine]
    assert float(iso) < -0.3 and float(moved) > float(iso) + 1.0


def test_block_statistics_see_jpeg_blocks_and_stay_near_zero_on_photographs() -> None:
    from tool_actors.learned.nets import block_statistics

    rng = np.random.default_rng(10)
    clean = [CleanPatches(patch=96).sample(rng) for _ in range(4)]
    jpeg = [X.graded_degradation("jpeg", c, 0.9, 1) for c in clean]

    def stats(images: list[np.ndarray]) -> torch.Tensor:
        return block_statistics(to_tensor(images, torch.device("cpu")))

    b_clean, b_jpeg = stats(clean), stats(jpeg)
    assert b_clean.shape == (4, 2) and float(b_clean.abs().mean()) < 0.4
    assert bool((b_jpeg.max(dim=1).values > b_clean.max(dim=1).values + 0.3).all())
    assert stats([np.zeros((6, 6, 3), np.uint8)]).tolist() == [[0.0, 0.0]]  # no grid line inside: no evidence


def test_judge_with_detail_and_block_statistics_scores_any_size_and_reloads(tmp_path: Path) -> None:
    cfg = JudgeConfig(widths=(8, 8, 16, 16), tone_stats=True, detail_stats=True, block_stats=True)
    net = JudgeNet(cfg).eval()
    for side in (16, 37, 96):
        assert net(torch.rand(2, 3, side, side + 3)).shape == (2,)
    path, _ = cards.save(net, tmp_path / "judge-small", {"calibration": Logistic4(1, 5, 0, 1).to_dict()})
    loaded, _ = cards.load(path, "JudgeNet")
    assert loaded.config == cfg
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded(x), net(x))


def test_sharpening_pairs_rank_unsharp_masking_below_what_it_sharpened_where_psnr_fell() -> None:
    patches = CleanPatches(patch=48)
    added = 0
    for seed in range(12):
        clean = patches.sample(np.random.default_rng(seed))
        plain = judge_group(clean, np.random.default_rng(100 + seed))
        g = judge_group(clean, np.random.default_rng(100 + seed), sharpening_pairs=True)
        assert g.tags == plain.tags and g.psnr == plain.psnr  # the same versions, only pairs change
        usm = g.tags.index("usm")
        full = max(i for i, t in enumerate(g.tags) if t.startswith("chain:"))
        pairs = {(i, j): s for i, j, s in g.pairs}
        if g.psnr[usm] < g.psnr[full]:
            assert pairs.get((full, usm)) is True  # a structural pair, whatever SSIM says
            added += {(i, j): s for i, j, s in plain.pairs}.get((full, usm)) is not True
        else:
            assert pairs.get((full, usm)) == {(i, j): s for i, j, s in plain.pairs}.get((full, usm))
    assert added >= 1


def test_judge_pair_is_the_mean_of_its_members_and_names_a_missing_one(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tool_actors.learned.judge import PAIR, PAIR_MEMBERS

    monkeypatch.setenv("RESTORE_RAY_WEIGHTS", str(tmp_path))
    for k, (member, detail) in enumerate(zip(PAIR_MEMBERS, (False, True))):
        torch.manual_seed(k)
        net = JudgeNet(JudgeConfig(widths=(8, 8, 16, 16), detail_stats=detail, block_stats=detail)).eval()
        cards.save(net, tmp_path / "learned" / member, {"calibration": Logistic4(1, 5, 0.1 * k, 0.05).to_dict()})
    entry = SCORERS.get(PAIR)
    assert entry.embedded and entry.extra["higher_is_better"] and entry.extra["members"] == list(PAIR_MEMBERS)
    pair = SCORERS.build(PAIR)
    images = np.stack(builtin_crops("train", 2, 40, seed=0))
    members = [LearnedJudge(m)(images) for m in PAIR_MEMBERS]
    assert not np.allclose(members[0], members[1])  # two different judges
    np.testing.assert_allclose(pair(images), (members[0] + members[1]) / 2, rtol=1e-6)
    assert all(1.0 < s < 5.0 for s in pair(images))
    (tmp_path / "learned" / f"{PAIR_MEMBERS[1]}.json").unlink()
    with pytest.raises(UnavailableError, match=f"{PAIR_MEMBERS[1]}.json"):
        SCORERS.build(PAIR)
    with pytest.raises(ValueError, match="at least one member"):
        JudgeEnsemble("empty", ())


def test_to_tensor_takes_read_only_images_without_a_warning() -> None:
    import subprocess
    import sys

    for module in ("tool_actors.learned.training", "tool_actors.scorers.tensor"):
        code = (f"import numpy as np, torch; from {module} import to_tensor; "
                "a = np.full((1, 8, 8, 3), 51, np.uint8); a.flags.writeable = False; "
                "t = to_tensor(a, torch.device('cpu')); "
                "assert t.shape == (1, 3, 8, 8) and abs(float(t.max()) - 0.2) < 1e-6")
        done = subprocess.run([sys.executable, "-W", "error", "-c", code], check=False, capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parents[1])
        assert done.returncode == 0, f"{module}: {done.stderr[-2000:]}"


def test_judge_trio_is_the_pair_less_the_detectors_guard_probabilities(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tool_actors.encoders.detect import DetectEncoder
    from tool_actors.learned.judge import GUARD_LABELS, GUARD_WEIGHT, PAIR, TRIO, GuardedJudge
    from tool_actors.learned.nets import DetectorConfig, DetectorNet
    from tool_actors.learned.train_detector import DETECTOR_NAME

    monkeypatch.setenv("RESTORE_RAY_WEIGHTS", str(tmp_path))
    for k, member in enumerate(("judge-rank", "judge-detail")):
        torch.manual_seed(k)
        net = JudgeNet(JudgeConfig(widths=(8, 8, 16, 16))).eval()
        cards.save(net, tmp_path / "learned" / member, {"calibration": Logistic4(1, 5, 0.1 * k, 0.05).to_dict()})
    torch.manual_seed(2)
    detector = DetectorNet(DetectorConfig(widths=(8, 8, 16, 16))).eval()
    cards.save(detector, tmp_path / "learned" / DETECTOR_NAME, {"labels": list(DEGRADATIONS)})
    entry = SCORERS.get(TRIO)
    assert entry.embedded and entry.extra["guard_labels"] == list(GUARD_LABELS)
    assert "motion_blur" not in GUARD_LABELS and "defocus_blur" not in GUARD_LABELS  # sharpening lowers those
    trio, pair = SCORERS.build(TRIO), SCORERS.build(PAIR)
    assert tuple(trio.score_range) == tuple(entry.extra["score_range"]) == (1 - GUARD_WEIGHT * len(GUARD_LABELS), 5)
    images = np.stack(builtin_crops("train", 3, 48, seed=1))
    logits = DetectEncoder().logits(images)[:, [DEGRADATIONS.index(d) for d in GUARD_LABELS]]
    penalty = GUARD_WEIGHT * (1 / (1 + np.exp(-logits.astype(np.float64)))).sum(1)
    assert penalty.min() > 0.01  # a random detector is unsure: the penalty is not zero
    np.testing.assert_allclose(trio(images), pair(images) - penalty, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="guard labels"):
        GuardedJudge(labels=("blur",))
    (tmp_path / "learned" / f"{DETECTOR_NAME}.json").unlink()
    with pytest.raises(UnavailableError, match=f"{DETECTOR_NAME}.json"):
        SCORERS.build(TRIO)


def test_cli_judge_score_prints_the_default_reward_and_rejects_other_names(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from restore_ray.cli import app
    from restore_ray.config import ComponentSettings
    from restore_ray.imageio import write_image
    from tool_actors.learned.judge import NAME, PAIR, QUARTET, TRIO

    path = tmp_path / "crop.png"
    crop = builtin_crops("test", 1, 64, seed=3)[0]
    write_image(path, crop)
    assert ComponentSettings().scorer == NAME  # the reward the agent trains with
    for args, scorer in (([], NAME), *((["--name", judge], judge) for judge in (PAIR, TRIO, QUARTET))):
        result = CliRunner().invoke(app, ["judge", "score", str(path), *args])
        assert result.exit_code == 0, result.output
        assert float(result.output.split()[0]) == pytest.approx(float(SCORERS.build(scorer)(crop[None])[0]), abs=1e-3)
    result = CliRunner().invoke(app, ["judge", "score", str(path), "--name", "judge-rank"])
    assert result.exit_code != 0 and "expected one of judge-small, judge-pair" in " ".join(result.output.split())
