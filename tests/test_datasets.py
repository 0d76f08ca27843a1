"""The dataset builder: the paper's protocol, determinism, folder input, the CLI and the contact sheet."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from restore_ray.cli import app
from restore_ray.combos import COMBINATIONS, combinations
from restore_ray.datasets import TEST_SOURCES, TRAIN_SOURCES, build_dataset, builtin_crops
from restore_ray.degradations import replay
from restore_ray.imageio import read_image, write_image
from restore_ray.manifest import read_manifest
from restore_ray.names import DEGRADATIONS

runner = CliRunner()


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    build_dataset("builtin", out, per_combo=23, size=48, seed=11, single_per_split=2)
    return out


def test_table4_combinations() -> None:
    assert len(COMBINATIONS) == 15
    assert [len(combinations(s)) for s in ("I", "II", "III", "IV")] == [5, 3, 4, 3]
    assert [c.name for c in combinations("I")] == [
        "dark+noise", "defocus_blur+jpeg", "motion_blur+dark", "noise+jpeg", "rain+haze"]
    assert combinations("IV")[-1].degradations == ("rain", "motion_blur", "defocus_blur", "noise", "jpeg")
    with pytest.raises(ValueError, match="unknown setting"):
        combinations("V")


def test_split_sizes_follow_the_protocol(small) -> None:
    recs = read_manifest(small)
    per = Counter((r.setting, r.combination, r.split) for r in recs)
    for combo in COMBINATIONS:
        if combo.setting == "I":
            assert per[("I", combo.name, "train")] == 20
            assert per[("I", combo.name, "test")] == 3
        else:
            assert per[(combo.setting, combo.name, "train")] == 0
            assert per[(combo.setting, combo.name, "test")] == 3  # unseen settings: test pictures only
    assert all(r.degradations == next(c for c in COMBINATIONS if c.name == r.combination).degradations for r in recs)


def test_records_are_complete_and_replayable(small) -> None:
    recs = read_manifest(small)
    for r in recs[::17]:
        lq, gt = read_image(r.lq_path), read_image(r.gt_path)
        assert lq.shape == gt.shape == (48, 48, 3)
        assert [p["name"] for p in r.params] == list(r.degradations)
        assert replay(gt, r.params).tobytes() == lq.tobytes()  # params record exactly what was applied


def test_train_and_test_pictures_never_mix(small) -> None:
    recs = read_manifest(small)
    train_gt = {r.gt for r in recs if r.split == "train"}
    test_gt = {r.gt for r in recs if r.split == "test"}
    assert train_gt and test_gt and not train_gt & test_gt
    assert set(TRAIN_SOURCES).isdisjoint(TEST_SOURCES)


def test_single_degradation_set(small) -> None:
    recs = read_manifest(small / "single.jsonl")
    per = Counter((r.degradations, r.split) for r in recs)
    for name in DEGRADATIONS:
        assert per[((name,), "train")] == 2 and per[((name,), "test")] == 2
    assert all(r.setting is None for r in recs)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path) -> None:
    kw = dict(per_combo=21, size=32, single_per_split=1)
    build_dataset("builtin", tmp_path / "a", seed=5, **kw)
    build_dataset("builtin", tmp_path / "b", seed=5, **kw)
    build_dataset("builtin", tmp_path / "c", seed=6, **kw)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_per_combo_must_leave_test_images(tmp_path) -> None:
    with pytest.raises(ValueError, match="must exceed"):
        build_dataset("builtin", tmp_path, per_combo=20)


def test_builtin_crops_are_clean_sized_and_varied() -> None:
    crops = builtin_crops("test", 4, 64, seed=0)
    assert all(c.shape == (64, 64, 3) and c.dtype == np.uint8 for c in crops)
    assert len({c.tobytes() for c in crops}) == 4


def test_folder_of_clean_images_uses_the_agenticir_split(tmp_path) -> None:
    clean = tmp_path / "clean"
    rng = np.random.default_rng(0)
    for i in range(12):
        write_image(clean / f"img{i:02d}.png", rng.integers(0, 256, (40, 60, 3), dtype=np.uint8))
    (clean / "readme.txt").write_text("not an image")
    summary = build_dataset(clean, tmp_path / "out", seed=0, size=30, single_per_split=0)
    recs = read_manifest(summary.manifest)
    assert summary.single is None
    train = sorted({r.gt for r in recs if r.split == "train"})
    assert train == ["gt/0001_img01.png", "gt/0002_img02.png", "gt/0011_img11.png"]  # i % 10 in {1, 2}
    # folder images are used for every combination (as in the paper); the longer side is capped
    assert Counter(r.setting for r in recs) == {"I": 60, "II": 36, "III": 48, "IV": 36}
    assert read_image(recs[0].gt_path).shape == (20, 30, 3)
    assert {r.split for r in recs if r.setting != "I"} == {"test"}


def test_cli_build_show_stats(tmp_path) -> None:
    out = tmp_path / "ds"
    res = runner.invoke(app, ["data", "build", "--clean", "builtin", "--out", str(out), "--per-combo", "21",
                              "--size", "32", "--single", "1"])
    assert res.exit_code == 0, res.output
    assert "wrote 115 records (100 train)" in res.output
    sheet = tmp_path / "sheet.png"
    res = runner.invoke(app, ["data", "show", str(out / "manifest.jsonl"), "--out", str(sheet), "--per-group", "2"])
    assert res.exit_code == 0, res.output
    img = read_image(sheet)
    assert img.shape[0] > img.shape[1] > 300  # one row per combination
    res = runner.invoke(app, ["data", "stats", str(out)])
    assert res.exit_code == 0 and "rain+haze" in res.output
    res = runner.invoke(app, ["data", "build", "--clean", str(tmp_path / "nope"), "--out", str(out)])
    assert res.exit_code != 0
