"""Scorers (every registered NR scorer), full-reference metrics and the scoring CLI.

Embedded scorers are checked for real behaviour (direction on builtin crops, golden values on
pyiqa's calibration images); the weight-loading scorers run their real architectures with random
weights saved to a temp weights directory, with the network refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tool_actors.base import InputError, UnavailableError, normalised_score
from tool_actors.registry import SCORERS

CALIBRATION = Path(__import__("pyiqa").__file__).resolve().parents[1] / "ResultsCalibra"
CALIBRATION_NAMES = ("I03", "I04", "I06", "I08", "I19")
EMBEDDED = [e.name for e in SCORERS.entries() if e.embedded and e.availability()[0]]


def _calibration(folder: str) -> np.ndarray:
    from PIL import Image

    path = CALIBRATION / folder
    if not path.is_dir():
        pytest.skip(f"pyiqa's calibration images are not installed at {path}")
    return np.stack([np.asarray(Image.open(path / f"{n}.bmp").convert("RGB")) for n in CALIBRATION_NAMES])


@pytest.fixture(scope="module")
def built() -> dict:
    torch.set_num_threads(1)  # the CPU is shared: one thread is faster than two fighting
    return {name: SCORERS.build(name) for name in EMBEDDED}


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> Path:
    """MUSIQ and a small CLIP (RN-type, as CLIP-IQA loads) with random weights, under pyiqa's file names."""
    from pyiqa.archs.clip_model import CLIP
    from pyiqa.archs.musiq_arch import MUSIQ

    from tool_actors.scorers.pyiqa_nets import CLIP_RN50_FILE, MUSIQ_FILE

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    (root / MUSIQ_FILE).parent.mkdir(parents=True)
    torch.save(MUSIQ(num_class=1, pretrained=False).state_dict(), root / MUSIQ_FILE)
    clip = CLIP(embed_dim=32, image_resolution=64, vision_layers=(1, 1, 1, 1), vision_width=8,
                vision_patch_size=None, context_length=77, vocab_size=49408, transformer_width=64,
                transformer_heads=1, transformer_layers=1)
    (root / CLIP_RN50_FILE).parent.mkdir(parents=True)
    torch.save(clip.state_dict(), root / CLIP_RN50_FILE)
    return root


# ------------------------------------------------------------------------------------ registry
OWN = ("niqe", "piqe", "brisque", "nr-combo", "musiq", "maniqa", "clipiqa", "deqa")


def test_every_scorer_entry_is_categorised_and_described() -> None:
    for entry in SCORERS.entries():
        assert entry.category in ("NR", "FR"), entry.name
        assert entry.description, entry.name
        if "score_range" in entry.extra:
            lo, hi = entry.extra["score_range"]
            assert hi > lo, entry.name


@pytest.mark.parametrize("name", OWN)
def test_scorer_entries_carry_direction_and_range_as_data(name) -> None:
    entry = SCORERS.get(name)
    assert entry.category == "NR"
    assert isinstance(entry.extra["higher_is_better"], bool)
    lo, hi = entry.extra["score_range"]
    assert hi > lo


def test_the_formula_scorers_are_embedded_and_available() -> None:
    for name in ("niqe", "piqe", "brisque", "nr-combo"):
        assert name in EMBEDDED


@pytest.mark.parametrize("name", EMBEDDED)
def test_entry_metadata_matches_the_built_scorer(built, name) -> None:
    entry, scorer = SCORERS.get(name), built[name]
    assert scorer.name == name
    if "higher_is_better" in entry.extra:
        assert scorer.higher_is_better == entry.extra["higher_is_better"]
    if "score_range" in entry.extra:
        assert tuple(scorer.score_range) == tuple(entry.extra["score_range"])


# ------------------------------------------------------------------ behaviour of each embedded scorer
@pytest.mark.parametrize("name", EMBEDDED)
def test_clean_scores_better_than_degraded(built, scoring_crops, name) -> None:
    scorer = built[name]
    clean, degraded = scorer.normalised(scorer(scoring_crops["clean"])), scorer.normalised(scorer(scoring_crops["degraded"]))
    better = int(np.sum(clean > degraded))
    assert better >= 4, f"{name}: clean preferred on only {better}/6 crops ({clean} vs {degraded})"


@pytest.mark.parametrize("name", EMBEDDED)
def test_batch_equals_per_image_and_is_deterministic(built, scoring_crops, name) -> None:
    scorer = built[name]
    batch = scoring_crops["degraded"][:3]
    together = scorer(batch)
    assert together.dtype == np.float32 and together.shape == (3,)
    one_by_one = np.concatenate([scorer(img[None]) for img in batch])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(scorer(batch), together)


@pytest.mark.parametrize("name", EMBEDDED)
def test_bad_input_is_an_input_error(built, name) -> None:
    scorer = built[name]
    good = np.zeros((1, 128, 128, 3), np.uint8)
    with pytest.raises(InputError, match="uint8"):
        scorer(good.astype(np.float32))
    with pytest.raises(InputError, match="batch axis"):
        scorer(good[0])
    with pytest.raises(InputError, match="3 RGB channels"):
        scorer(good[..., :2])
    with pytest.raises(InputError, match="empty"):
        scorer(good[:0])
    with pytest.raises(InputError):
        scorer([[1, 2, 3]])


def test_too_small_images_are_input_errors(built) -> None:
    with pytest.raises(InputError, match="96×96"):
        built["niqe"](np.zeros((1, 64, 200, 3), np.uint8))
    with pytest.raises(InputError, match="16×16"):
        built["brisque"](np.zeros((1, 8, 8, 3), np.uint8))


def test_flat_images_get_the_worst_score_not_nan(built) -> None:
    flat = np.stack([np.zeros((128, 128, 3), np.uint8), np.full((128, 128, 3), 200, np.uint8)])
    for name in ("niqe", "brisque"):
        scorer = built[name]
        np.testing.assert_array_equal(scorer(flat), np.float32(scorer.score_range[1]))
    np.testing.assert_allclose(built["piqe"](flat), [100.0, 100.0])


# ------------------------------------------------------------------------------- golden numbers
def test_niqe_golden_values_on_pyiqa_calibration_images(built) -> None:
    expected = [15.6538, 3.6549, 3.2342, 3.1922, 9.0722]  # pyiqa's published niqe (ours)
    np.testing.assert_allclose(built["niqe"](_calibration("dist_dir")), expected, atol=0.01)


def test_piqe_golden_values_on_pyiqa_calibration_images(built) -> None:
    expected = [100.0, 21.6243, 35.8646, 41.1471, 76.9485]
    np.testing.assert_allclose(built["piqe"](_calibration("dist_dir")), expected, atol=0.01)


def test_niqe_parameters_are_the_live_pristine_model() -> None:
    from tool_actors.scorers.niqe import pristine_params

    p = pristine_params()
    assert p["mu"].shape == (36,) and p["cov"].shape == (36, 36)
    np.testing.assert_allclose(p["cov"], p["cov"].T)


def test_brisque_runs_under_numpy_2(built) -> None:
    rng = np.random.default_rng(0)
    clean = _calibration("ref_dir")[:1]
    noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
    s_clean, s_noisy = built["brisque"](clean)[0], built["brisque"](noisy)[0]
    assert np.isfinite(s_clean) and s_noisy > s_clean + 20


def test_normalised_flips_lower_is_better(built) -> None:
    niqe = built["niqe"]
    lo, hi = niqe.score_range
    np.testing.assert_allclose(niqe.normalised(np.array([lo, hi], np.float32)), [1.0, 0.0])
    np.testing.assert_allclose(normalised_score(np.array([1.0, 5.0]), (1.0, 5.0), True), [0.0, 1.0])


def test_nr_combo_is_the_mean_of_signed_z_scores(built, scoring_crops) -> None:
    from tool_actors.scorers.combined import COMPONENTS, constants

    batch = scoring_crops["degraded"][:2]
    expected = np.mean([-(built[n](batch)) - constants()[n]["mean"] for n in COMPONENTS]
                       / np.array([constants()[n]["std"] for n in COMPONENTS])[:, None], axis=0)
    np.testing.assert_allclose(built["nr-combo"](batch), expected, rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------- weight-loading scorers (pyiqa nets)
@pytest.mark.parametrize("name, filename", [("musiq", "pyiqa/musiq_koniq_ckpt-e95806b9.pth"),
                                            ("maniqa", "pyiqa/ckpt_koniq10k.pt"), ("clipiqa", "clip/RN50.pt"),
                                            ("deqa", "DeQA-Score-Mix3/config.json")])
def test_weight_scorers_name_their_missing_file(tmp_path, name, filename) -> None:
    ok, reason = SCORERS.get(name).availability(tmp_path)
    assert not ok and filename in reason and str(tmp_path) in reason
    with pytest.raises(UnavailableError, match=filename.split("/")[-1]):
        SCORERS.build(name, weights_dir=tmp_path)


@pytest.mark.parametrize("name", ["musiq", "clipiqa"])
def test_pyiqa_nets_load_local_weights_and_score(random_weights, scoring_no_network, scoring_crops, name) -> None:
    torch.set_num_threads(1)
    scorer = SCORERS.build(name, weights_dir=random_weights)
    batch = scoring_crops["clean"][:2, :96, :96]
    out = scorer(batch)
    assert out.shape == (2,) and out.dtype == np.float32 and np.all(np.isfinite(out))
    # batch = per image (and therefore deterministic: the second image is scored twice)
    np.testing.assert_allclose(scorer(batch[1:]), out[1:], rtol=1e-4, atol=1e-4)
    assert scorer.higher_is_better


@pytest.mark.slow
def test_maniqa_builds_offline_and_scores(tmp_path, scoring_no_network) -> None:
    from pyiqa.archs import maniqa_arch

    from tool_actors.scorers.pyiqa_nets import MANIQA_FILE, _timm_without_downloads

    with _timm_without_downloads(maniqa_arch):
        net = maniqa_arch.MANIQA(train_dataset="koniq", scale=0.8, pretrained=False)
    (tmp_path / MANIQA_FILE).parent.mkdir(parents=True)
    torch.save({"params": net.state_dict()}, tmp_path / MANIQA_FILE)
    scorer = SCORERS.build("maniqa", weights_dir=tmp_path)
    scorer._net.test_sample = 1  # one 224² crop instead of pyiqa's 20: the same code path, 20× cheaper
    out = scorer(np.full((1, 224, 224, 3), 90, np.uint8))
    assert out.shape == (1,) and np.isfinite(out).all()


# ------------------------------------------------------------------------------------- metrics
def test_psnr_and_ssim_golden_values() -> None:
    from tool_actors.metrics import psnr_batch, ssim_batch

    ref, dist = _calibration("ref_dir"), _calibration("dist_dir")
    np.testing.assert_allclose(psnr_batch(dist, ref), [21.1136, 20.9872, 27.0139, 23.3002, 21.6186], atol=1e-3)
    np.testing.assert_allclose(ssim_batch(dist, ref), [0.6997, 0.9978, 0.9989, 0.9671, 0.6522], atol=1e-3)


def test_metric_conventions_and_errors(scoring_crops) -> None:
    from tool_actors.metrics import psnr, psnr_batch, ssim, ssim_batch

    a, b = scoring_crops["clean"], scoring_crops["degraded"]
    assert psnr(a[0], a[0]) == pytest.approx(80.0)
    assert ssim(a[0], a[0]) == pytest.approx(1.0)
    np.testing.assert_allclose(psnr_batch(a, b), [psnr(x, y) for x, y in zip(a, b)])
    np.testing.assert_allclose(ssim_batch(a, b), [ssim(x, y) for x, y in zip(a, b)])
    assert np.all(psnr_batch(a, b) < 80) and np.all(ssim_batch(a, b) < 1)
    with pytest.raises(InputError, match="differ in shape"):
        psnr(a[0], a[0, :100])
    with pytest.raises(InputError, match="uint8"):
        ssim(a[0].astype(float), a[0])


def test_lpips_needs_its_weights(tmp_path) -> None:
    from tool_actors.metrics import LPIPS_BACKBONE, lpips, lpips_available

    ok, reason = lpips_available(tmp_path)
    assert not ok and LPIPS_BACKBONE in reason
    img = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(UnavailableError, match="alexnet"):
        lpips(img, img, weights_dir=tmp_path)


def test_lpips_runs_with_local_weights(tmp_path, scoring_no_network, scoring_crops) -> None:
    import torchvision

    from tool_actors.metrics import LPIPS_BACKBONE, LPIPS_LINEAR, lpips_batch

    (tmp_path / "lpips").mkdir()
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), tmp_path / LPIPS_BACKBONE)
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate((64, 192, 384, 256, 256))},
               tmp_path / LPIPS_LINEAR)
    a, b = scoring_crops["clean"][:2], scoring_crops["degraded"][:2]
    d = lpips_batch(a, b, weights_dir=tmp_path)
    assert d.shape == (2,) and np.all(d > 0)
    np.testing.assert_allclose(lpips_batch(a, a, weights_dir=tmp_path), 0.0, atol=1e-6)


# ----------------------------------------------------------------------------------------- CLI
def test_cli_lists_and_scores(tmp_path, scoring_crops) -> None:
    from typer.testing import CliRunner

    from restore_ray.cli import app
    from restore_ray.imageio import write_image

    runner = CliRunner()
    listing = runner.invoke(app, ["scorers", "list", "--json"])
    assert listing.exit_code == 0, listing.output
    items = {it["name"]: it for it in json.loads(listing.output)}
    assert items["niqe"]["available"] and not items["deqa"]["available"]
    assert "DeQA-Score-Mix3" in items["deqa"]["reason"]
    enc = runner.invoke(app, ["encoders", "list", "--json"])
    assert enc.exit_code == 0 and any(it["name"] == "stats" for it in json.loads(enc.output))

    paths = [write_image(tmp_path / f"{k}.png", scoring_crops[k][0]) for k in ("clean", "degraded")]
    res = runner.invoke(app, ["score", "--scorer", "piqe", "--json", *map(str, paths)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["scorer"] == "piqe" and len(out["results"]) == 2
    assert out["results"][0]["normalised"] > out["results"][1]["normalised"]

    bad = runner.invoke(app, ["score", "--scorer", "nope", str(paths[0])])
    assert bad.exit_code != 0 and "unknown scorer" in bad.output
    missing = runner.invoke(app, ["score", "--scorer", "deqa", "--weights", str(tmp_path), str(paths[0])])
    assert missing.exit_code == 2 and "DeQA-Score-Mix3" in missing.output
