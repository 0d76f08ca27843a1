"""The restoration environment: spaces, masking, reward arithmetic, failures, and the no-ground-truth rule."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from restore_ray.env import RestoreEnv
from restore_ray.executors import ExecutorSpec, connect_executor, release
from restore_ray.manifest import read_manifest, training_images
from tool_actors.pool import PoolConfig


def make_env(registries, manifest, scorer="toy-brightness", **kw) -> RestoreEnv:
    spec = ExecutorSpec("local", PoolConfig(tools=["toy-brighten", "toy-darken", "toy-blur"], scorer=scorer,
                                            encoder="toy-stats"), registries)
    env = RestoreEnv({"images": training_images(manifest), "executor_factory": functools.partial(connect_executor, spec),
                      "reward_scale": 10.0, **kw})
    env._spec = spec
    return env


@pytest.fixture()
def env(agent_toy_registries, agent_toy_dataset):
    e = make_env(agent_toy_registries, agent_toy_dataset)
    yield e
    release(e._spec)


def test_spaces(env) -> None:
    obs, info = env.reset(seed=0)
    assert env.action_space.n == 4  # three tools + STOP
    assert env.observation_space["obs"].shape == (2 + 3 + 1,)
    assert env.observation_space.contains(obs)
    assert obs["action_mask"].tolist() == [1, 1, 1, 1]
    assert obs["obs"][-1] == 0.0 and obs["obs"][2:5].tolist() == [0, 0, 0]
    assert info["image"].startswith("toy_")


def test_reward_is_the_scaled_quality_gain(env) -> None:
    env.reset(seed=1)
    q0 = env.quality
    obs, reward, terminated, truncated, info = env.step(0)  # toy-brighten
    assert info["tool"] == "toy-brighten" and not terminated and not truncated
    assert reward == pytest.approx(10.0 * (info["quality"] - q0))
    assert reward > 0  # dark → mid-grey is an improvement
    assert obs["obs"][2:5].tolist() == [1, 0, 0]  # action record
    assert obs["obs"][-1] == pytest.approx(1 / 5)
    _, r2, _, _, _ = env.step(0)  # brightening again overshoots
    assert r2 < 0


def test_step_cost_and_stop(agent_toy_registries, agent_toy_dataset) -> None:
    env = make_env(agent_toy_registries, agent_toy_dataset, step_cost=0.25)
    try:
        env.reset(seed=2)
        q0 = env.quality
        _, reward, _, _, info = env.step(2)  # toy-blur barely changes the mean
        assert reward == pytest.approx(10.0 * (info["quality"] - q0) - 0.25)
        _, reward, terminated, _, info = env.step(3)  # STOP
        assert reward == 0.0 and terminated and info["tool"] == "STOP" and info["plan"] == ["toy-blur"]
    finally:
        release(env._spec)


def test_episode_ends_after_max_steps(agent_toy_registries, agent_toy_dataset) -> None:
    env = make_env(agent_toy_registries, agent_toy_dataset, max_steps=3, stop_action=False)
    try:
        env.reset(seed=0)
        assert env.action_space.n == 3
        done = [env.step(2)[2] for _ in range(3)]
        assert done == [False, False, True]
    finally:
        release(env._spec)


def test_masking_rejects_forbidden_actions(agent_toy_registries, agent_toy_dataset) -> None:
    env = make_env(agent_toy_registries, agent_toy_dataset, mask_repeats=True)
    try:
        env.reset(seed=0)
        obs, *_ = env.step(1)
        assert obs["action_mask"].tolist() == [1, 0, 1, 1]
        with pytest.raises(ValueError, match="not allowed"):
            env.step(1)
        with pytest.raises(ValueError, match="not allowed"):
            env.step(7)
    finally:
        release(env._spec)


def test_only_degraded_images_enter_the_environment(agent_toy_registries, agent_toy_dataset) -> None:
    records = read_manifest(agent_toy_dataset)
    spec = ExecutorSpec("local", PoolConfig(tools=["toy-brighten"], scorer="toy-brightness", encoder="toy-stats"),
                        agent_toy_registries)
    with pytest.raises(TypeError, match="never ground truth"):
        RestoreEnv({"images": records, "executor_factory": functools.partial(connect_executor, spec)})
    # the ground truth can vanish: the environment never looks at it
    for r in records:
        r.gt_path.unlink()
    env = make_env(agent_toy_registries, agent_toy_dataset)
    try:
        for seed in range(3):
            env.reset(seed=seed)
            env.step(0)
    finally:
        release(env._spec)


def test_scorer_failure_skips_the_episode_and_counts_it(agent_toy_registries, agent_write_toy_dataset,
                                                         tmp_path) -> None:
    manifest = agent_write_toy_dataset(tmp_path / "flaky", n_train=12, flaky=2)
    env = make_env(agent_toy_registries, manifest, scorer="toy-flaky")
    try:
        seen = set()
        for seed in range(12):
            _, info = env.reset(seed=seed)
            seen.add(info["image"])
        assert env.stats.skipped_episodes >= 1
        assert "upsets the scorer" in env.stats.last_error
        assert not seen & {"toy_000", "toy_001"}  # the failing images were skipped
    finally:
        release(env._spec)


def test_a_broken_setup_is_raised_not_trained_on(agent_toy_registries, agent_write_toy_dataset, tmp_path) -> None:
    manifest = agent_write_toy_dataset(tmp_path / "allbad", n_train=4, n_test=0, flaky=4)
    env = make_env(agent_toy_registries, manifest, scorer="toy-flaky")
    try:
        with pytest.raises(RuntimeError, match="failed"):
            for seed in range(10):
                env.reset(seed=seed)
    finally:
        release(env._spec)


def test_group_mode_repeats_each_image(agent_toy_registries, agent_toy_dataset) -> None:
    env = make_env(agent_toy_registries, agent_toy_dataset, group_size=3)
    try:
        ids = [env.reset()[1]["image"] for _ in range(9)]
        assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4] == ids[5] and ids[6] == ids[7] == ids[8]
        assert len(set(ids)) == 3
    finally:
        release(env._spec)


def test_a_repeated_seed_does_not_restart_the_image_order(agent_toy_registries, agent_toy_dataset) -> None:
    """RLlib passes the env runner's seed before every episode in complete_episodes mode (GRPO):
    training must still move through all images, group by group."""
    env = make_env(agent_toy_registries, agent_toy_dataset, group_size=2)
    try:
        ids = [env.reset(seed=7)[1]["image"] for _ in range(6)]
        assert ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5]
        assert len(set(ids)) == 3
        fresh = make_env(agent_toy_registries, agent_toy_dataset, group_size=2)
        try:  # the same seed on a fresh environment gives the same order
            assert [fresh.reset(seed=7)[1]["image"] for _ in range(6)] == ids
        finally:
            release(fresh._spec)
    finally:
        release(env._spec)


def test_images_are_downscaled_to_the_training_size(agent_toy_registries, agent_toy_dataset) -> None:
    env = make_env(agent_toy_registries, agent_toy_dataset, max_image_side=6)
    try:
        env.reset(seed=0)
        assert env.image.shape == (6, 6, 3)
        assert np.asarray(env.image).dtype == np.uint8
    finally:
        release(env._spec)
