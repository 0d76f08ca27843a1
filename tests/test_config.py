"""The training configuration: paper defaults, YAML files, overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from restore_ray.config import TrainConfig
from restore_ray.train import entropy_schedule

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def test_paper_defaults() -> None:
    c = TrainConfig()
    p = c.ppo
    assert (p.lr, p.clip_param, p.vf_loss_coeff, p.entropy_coeff, p.entropy_decay, p.gamma, p.lambda_) == (
        0.01, 0.2, 0.5, 0.05, 0.99, 0.99, 0.95)
    assert c.env.max_steps == 5 and c.env.stop_action


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_load(path) -> None:
    cfg = TrainConfig.from_yaml(path)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_keys_are_errors(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo:\n  learning_rate: 0.1\n")
    with pytest.raises(ValueError, match="unknown key\\(s\\) learning_rate in section 'ppo'"):
        TrainConfig.from_yaml(bad)
    bad.write_text("optimiser: {}\n")
    with pytest.raises(ValueError, match="unknown section\\(s\\) optimiser"):
        TrainConfig.from_yaml(bad)
    with pytest.raises(FileNotFoundError, match="no such config"):
        TrainConfig.from_yaml(tmp_path / "none.yaml")


def test_overrides_and_validation() -> None:
    cfg = TrainConfig().with_overrides({"run.iterations": 3, "ppo.algo": "grpo"})
    assert cfg.run.iterations == 3 and cfg.ppo.algo == "grpo"
    with pytest.raises(ValueError, match="ppo.algo"):
        TrainConfig().with_overrides({"ppo.algo": "sac"})
    with pytest.raises(ValueError, match="minibatch_size"):
        TrainConfig().with_overrides({"ppo.minibatch_size": 10_000})
    with pytest.raises(ValueError, match="SECTION.KEY"):
        TrainConfig().with_overrides({"iterations": 3})


def test_entropy_decays_by_the_factor_each_iteration() -> None:
    sched = entropy_schedule(0.05, 0.99, 512, 3)
    assert sched == [[0, 0.05], [512, 0.05 * 0.99], [1024, 0.05 * 0.99**2], [1536, 0.05 * 0.99**3]]
