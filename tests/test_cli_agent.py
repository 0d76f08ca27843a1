"""The agent's command line end to end with the real embedded components: train → restore → evaluate, and the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from restore_ray.cli import app
from restore_ray.datasets import build_dataset
from restore_ray.imageio import read_image, write_image

pytestmark = [pytest.mark.slow, pytest.mark.ray]
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    return build_dataset("builtin", out, per_combo=22, size=48, seed=1, single_per_split=0).manifest


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_dataset) -> Path:
    run = tmp_path_factory.mktemp("run") / "run"
    res = runner.invoke(app, ["train", "--config", "configs/demo.yaml", "--data", str(tiny_dataset), "--out", str(run),
                              "--iterations", "2", "--set", "ppo.train_batch_size=64",
                              "--set", "ppo.minibatch_size=32", "--set", "run.max_image_side=48"])
    assert res.exit_code == 0, res.output
    assert "iter   2/2" in res.output
    return run


def test_train_writes_a_complete_run(trained) -> None:
    for name in ("policy.safetensors", "policy.json", "metrics.csv", "learning_curve.png", "summary.json"):
        assert (trained / name).is_file(), name
    meta = json.loads((trained / "policy.json").read_text())
    assert meta["encoder"]["name"] == "stats" and meta["actions"][-1] == "STOP"
    assert len(meta["tools"]) >= 14  # the embedded toolbox, at least two per category


def test_restore_writes_images_plans_and_a_figure(trained, tiny_dataset, tmp_path) -> None:
    lq = sorted((tiny_dataset.parent / "lq" / "II").rglob("*.png"))[:2]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"")
    out = tmp_path / "restored"
    res = runner.invoke(app, ["restore", "--policy", str(trained / "policy.safetensors"), *map(str, lq), "--out",
                              str(out)])
    assert res.exit_code == 0, res.output
    for path in lq:
        restored = read_image(out / f"{path.stem}_restored.png")
        assert restored.shape == read_image(path).shape
        plan = json.loads((out / f"{path.stem}_plan.json").read_text())
        assert plan["planner"] == "learned" and len(plan["plan"]) <= 5
        assert all(set(s) == {"tool", "quality", "seconds"} for s in plan["steps"])
    assert (out / "before_after.png").is_file()
    # a bad input is reported by name and the others are still restored
    res = runner.invoke(app, ["restore", "--policy", str(trained), str(broken), str(lq[0]), "--out", str(out / "b")])
    assert res.exit_code == 1 and "broken.png" in res.output
    assert (out / "b" / f"{lq[0].stem}_restored.png").is_file()


def test_evaluate_compares_planners_per_setting(trained, tiny_dataset, tmp_path) -> None:
    report = tmp_path / "eval.json"
    res = runner.invoke(app, ["evaluate", "--data", str(tiny_dataset), "--policy", str(trained), "--out", str(report),
                              "--planners", "do-nothing,random", "--per-combination", "1"])
    assert res.exit_code == 0, res.output
    data = json.loads(report.read_text())
    assert set(data["summary"]) == {"I", "II", "III", "IV", "all"}
    assert set(data["summary"]["all"]) == {"do-nothing", "random", "learned"}
    nothing = [r for r in data["rows"] if r["planner"] == "do-nothing"]
    assert all(r["psnr"] == pytest.approx(r["psnr_in"]) and r["tool_calls"] == 0 for r in nothing)
    res = runner.invoke(app, ["evaluate", "--data", str(tiny_dataset), "--out", str(report), "--planners", "magic"])
    assert res.exit_code != 0 and "unknown planner" in res.output


def test_restore_rejects_a_different_toolbox(trained, tmp_path) -> None:
    from policies.export import PolicyFileError
    from restore_ray.executors import local_executor
    from restore_ray.restorer import Restorer

    executor = local_executor(["clahe", "nlm"], "niqe", "stats")
    with pytest.raises(PolicyFileError, match="lacks"):
        Restorer.from_policy(trained, executor=executor)


def test_demo_runs_end_to_end(tmp_path) -> None:
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out), "--size", "48", "--iterations", "1",
                              "--per-combination", "1"])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["summary"]["all"]) == {"do-nothing", "random", "learned"}
    for key in ("contact_sheet", "before_after", "learning_curve"):
        assert Path(report["figures"][key]).is_file()
    write_image(tmp_path / "x.png", read_image(report["figures"]["before_after"]))  # a readable PNG
