"""End-to-end training on RLlib with the toy toolbox whose right answer is known.

These start Ray and train for real (a few iterations of small batches), so they are marked slow.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from restore_ray.config import TrainConfig
from restore_ray.executors import local_executor
from restore_ray.imageio import read_image
from restore_ray.manifest import read_manifest
from restore_ray.planners import RandomPlanner
from restore_ray.restorer import Restorer
from restore_ray.train import train
from tool_actors.local import LocalExecutor
from tool_actors.pool import PoolConfig

pytestmark = [pytest.mark.slow, pytest.mark.ray]

TOOLS = ["toy-brighten", "toy-darken", "toy-blur"]


def toy_config(**overrides) -> TrainConfig:
    base = {"components.tools": TOOLS, "components.scorer": "toy-brightness", "components.encoder": "toy-stats",
            "components.executor": "local", "run.iterations": 5, "ppo.train_batch_size": 128,
            "ppo.minibatch_size": 64}
    return TrainConfig().with_overrides({**base, **overrides})


def metrics(run: Path) -> list[dict[str, float]]:
    with (run / "metrics.csv").open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def toy_executor(registries, scorer: str = "toy-brightness") -> LocalExecutor:
    tools, scorers, encoders = registries
    return LocalExecutor(PoolConfig(tools=TOOLS, scorer=scorer, encoder="toy-stats"), tools=tools, scorers=scorers,
                         encoders=encoders)


def held_out_quality(policy: Path, manifest: Path, registries) -> tuple[float, float, list[list[str]]]:
    ex = toy_executor(registries)
    restorer = Restorer.from_policy(policy, executor=ex)
    rand = RandomPlanner(steps=2, seed=0)
    test = [r for r in read_manifest(manifest) if r.split == "test"]
    learned = [restorer.restore(read_image(r.lq_path)) for r in test]
    baseline = [rand.run(read_image(r.lq_path), ex) for r in test]
    return (float(np.mean([r.final_quality for r in learned])), float(np.mean([r.final_quality for r in baseline])),
            [r.plan for r in learned])


@pytest.mark.parametrize("algo", ["ppo", "grpo"])
def test_training_learns_the_known_answer(tmp_path, agent_toy_registries, agent_toy_dataset, algo) -> None:
    for rec in read_manifest(agent_toy_dataset):  # training never needs ground truth
        rec.gt_path.rename(rec.gt_path.with_suffix(".hidden"))
    run = tmp_path / "run"
    result = train(toy_config(**{"ppo.algo": algo, "run.iterations": 6}), agent_toy_dataset, run,
                   registries=agent_toy_registries)
    for rec in read_manifest(agent_toy_dataset):
        rec.gt_path.with_suffix(".hidden").rename(rec.gt_path)
    for name in ("policy.safetensors", "policy.json", "metrics.csv", "learning_curve.png", "config.yaml",
                 "summary.json", "checkpoints/latest.json"):
        assert (run / name).exists(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    rows = metrics(run)
    assert [int(r["iteration"]) for r in rows] == list(range(1, 7))
    assert rows[-1]["final_quality"] > rows[0]["final_quality"]  # the learning curve rises
    assert rows[-1]["entropy_coeff"] < rows[0]["entropy_coeff"]  # c2 decays
    learned, random_q, plans = held_out_quality(result.policy, agent_toy_dataset, agent_toy_registries)
    assert learned > random_q + 0.1, (learned, random_q, plans)
    assert sum(p[:1] == ["toy-brighten"] for p in plans) >= len(plans) - 1  # brighten first
    meta = json.loads((run / "policy.json").read_text())
    assert meta["tools"] == TOOLS and meta["training"]["algo"] == algo
    assert meta["critic"] is (algo == "ppo")


def test_scorer_errors_skip_episodes_without_stopping(tmp_path, agent_toy_registries, agent_write_toy_dataset) -> None:
    manifest = agent_write_toy_dataset(tmp_path / "flaky", n_train=12, flaky=2)
    run = tmp_path / "run"
    train(toy_config(**{"components.scorer": "toy-flaky", "run.iterations": 2}), manifest, run,
          registries=agent_toy_registries)
    rows = metrics(run)
    assert len(rows) == 2
    assert rows[-1]["skipped_episodes"] >= 1  # counted, and the run went on


def test_a_killed_run_resumes_without_losing_iterations(tmp_path, agent_toy_registries, agent_toy_dataset) -> None:
    run = tmp_path / "run"
    conftest = Path(__file__).with_name("conftest.py")
    script = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location("toyconf", {str(conftest)!r})
        mod = importlib.util.module_from_spec(spec); sys.modules["toyconf"] = mod; spec.loader.exec_module(mod)
        from restore_ray.config import TrainConfig
        from restore_ray.train import train
        cfg = TrainConfig().with_overrides({{"components.tools": {TOOLS!r}, "components.scorer": "toy-brightness",
            "components.encoder": "toy-stats", "components.executor": "local", "run.iterations": 50,
            "ppo.train_batch_size": 128, "ppo.minibatch_size": 64}})
        train(cfg, {str(agent_toy_dataset)!r}, {str(run)!r}, registries=mod.toy_registries())
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    latest = run / "checkpoints" / "latest.json"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if latest.exists() and json.loads(latest.read_text())["iteration"] >= 3:
                break
            if proc.poll() is not None:
                pytest.fail(f"the training process ended early with code {proc.returncode}")
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint of iteration 3 within 240 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9: no chance to clean up
        proc.wait()
    done = json.loads(latest.read_text())["iteration"]
    before = {int(r["iteration"]): r for r in metrics(run)}
    train(toy_config(**{"run.iterations": done + 2}), agent_toy_dataset, run, resume=True,
          registries=agent_toy_registries)
    rows = metrics(run)
    assert [int(r["iteration"]) for r in rows] == list(range(1, done + 3))  # nothing lost, nothing twice
    for i in range(1, done + 1):
        assert rows[i - 1] == before[i]  # checkpointed iterations are kept as they were
    assert rows[done]["env_steps"] > rows[done - 1]["env_steps"]  # the counters continue
    with pytest.raises(FileExistsError, match="--resume"):
        train(toy_config(), agent_toy_dataset, run, registries=agent_toy_registries)


def test_killing_a_tool_actor_mid_training(tmp_path, agent_toy_registries, agent_toy_dataset) -> None:
    import ray

    killed = []

    def kill_tool(iteration: int, algo) -> None:
        if iteration == 1:
            handle = ray.get_actor("tool:toy-brighten", namespace="restore-ray")
            ray.kill(handle, no_restart=False)
            killed.append(handle)

    run = tmp_path / "run"
    train(toy_config(**{"components.executor": "ray", "run.iterations": 3}), agent_toy_dataset, run,
          registries=agent_toy_registries, on_iteration=kill_tool)
    assert killed
    rows = metrics(run)
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]  # training went on after the crash
    assert rows[-1]["env_steps"] > rows[0]["env_steps"]
