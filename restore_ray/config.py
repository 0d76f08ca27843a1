"""Training configuration: the paper's PPO defaults in one dataclass, overridable from YAML.

A YAML file in ``configs/`` holds any subset of these sections::

    ppo:        # the learning algorithm (paper symbols beside each field)
    env:        # episode rules
    components: # which tools, reward scorer and encoder; where their actors run
    run:        # budget, parallelism, checkpoints

Unknown keys are errors that name the key and the section, so a typo never silently falls back
to a default.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class PPOSettings:
    """PPO hyperparameters; defaults are the paper's."""

    lr: float = 0.01  # learning rate
    clip_param: float = 0.2  # ε, PPO clip
    vf_loss_coeff: float = 0.5  # c1, value-loss coefficient
    entropy_coeff: float = 0.05  # c2, entropy bonus at the start
    entropy_decay: float = 0.99  # c2 is multiplied by this after every training iteration
    gamma: float = 0.99  # γ, discount
    lambda_: float = 0.95  # λ, GAE
    num_epochs: int = 4  # SGD passes over each training batch
    minibatch_size: int = 128  # SGD minibatch
    train_batch_size: int = 512  # env steps per training iteration
    grad_clip: float | None = 0.5  # global-norm gradient clip (None: off)
    algo: str = "ppo"  # "ppo" or "grpo"
    group_size: int = 8  # G: GRPO rollouts of the same image


@dataclass
class EnvSettings:
    """Episode rules."""

    max_steps: int = 5  # T: tool calls per episode (5 is enough for Setting IV)
    stop_action: bool = True  # add a STOP action (the paper has none)
    step_cost: float = 0.0  # subtracted from the reward of every tool call
    reward_scale: float = 10.0  # the normalised quality gain is multiplied by this
    mask_repeats: bool = False  # forbid applying the same tool twice in one episode


@dataclass
class ComponentSettings:
    """What the agent works with; names come from the tool, scorer and encoder registries."""

    tools: list[str] | str = "embedded"  # a list of names, or "embedded" for the offline default toolbox
    scorer: str = "judge-small"  # the reward
    encoder: str = "stats"  # the observation encoder
    weights_dir: str | None = None  # where real weights live (else $RESTORE_RAY_WEIGHTS)
    executor: str = "ray"  # "ray": shared actors; "local": in-process (tests, one machine)
    cache_mb: int = 512  # tool-result cache bound
    gpu_per_neural_actor: float = 0.25  # fraction of a GPU per neural tool / scorer / encoder actor
    cpu_per_actor: float = 0.0  # logical CPUs reserved per actor
    scorer_batch: int = 32  # most requests the scorer actor batches together
    scorer_wait_ms: float = 5.0  # how long it waits to fill a batch


@dataclass
class RunSettings:
    """Budget and parallelism."""

    iterations: int = 30  # training iterations
    num_env_runners: int = 0  # rollout workers (0: sample in the driver)
    num_envs_per_env_runner: int = 1
    seed: int = 0
    checkpoint_every: int = 1  # iterations between RLlib checkpoints (1: never lose an iteration)
    keep_checkpoints: int = 2
    max_image_side: int | None = 256  # training images are downscaled to this longer side (None: keep)


@dataclass
class TrainConfig:
    """The whole training configuration."""

    ppo: PPOSettings = field(default_factory=PPOSettings)
    env: EnvSettings = field(default_factory=EnvSettings)
    components: ComponentSettings = field(default_factory=ComponentSettings)
    run: RunSettings = field(default_factory=RunSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str = "config") -> TrainConfig:
        data = dict(data or {})
        sections = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ValueError(f"{where}: unknown section(s) {', '.join(unknown)}; expected {', '.join(sections)}")
        built = {}
        for name, f in sections.items():
            section_cls = f.default_factory  # type: ignore[misc]
            values = data.get(name) or {}
            if not isinstance(values, dict):
                raise ValueError(f"{where}: section {name!r} must be a mapping")
            known = {sf.name for sf in dataclasses.fields(section_cls)}
            bad = sorted(set(values) - known)
            if bad:
                raise ValueError(f"{where}: unknown key(s) {', '.join(bad)} in section {name!r}; "
                                 f"expected {', '.join(sorted(known))}")
            built[name] = section_cls(**values)
        cfg = cls(**built)
        cfg.validate(where)
        return cfg

    @classmethod
    def from_yaml(cls, path: str | os.PathLike | None) -> TrainConfig:
        if path is None:
            return cls()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file (see configs/ for examples)")
        return cls.from_dict(yaml.safe_load(path.read_text()), str(path))

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """Override dotted keys, e.g. ``{"run.iterations": 3, "ppo.algo": "grpo"}``."""
        data = self.to_dict()
        for dotted, value in overrides.items():
            section, _, key = dotted.partition(".")
            if section not in data or not key:
                raise ValueError(f"override {dotted!r}: expected SECTION.KEY with SECTION in {', '.join(data)}")
            data[section][key] = value
        return TrainConfig.from_dict(data, "overrides")

    def validate(self, where: str = "config") -> None:
        p, e, r = self.ppo, self.env, self.run
        if p.algo not in ("ppo", "grpo"):
            raise ValueError(f"{where}: ppo.algo must be 'ppo' or 'grpo', got {p.algo!r}")
        if p.minibatch_size > p.train_batch_size:
            raise ValueError(f"{where}: ppo.minibatch_size ({p.minibatch_size}) exceeds ppo.train_batch_size "
                             f"({p.train_batch_size})")
        if not 0 < p.entropy_decay <= 1:
            raise ValueError(f"{where}: ppo.entropy_decay must be in (0, 1]")
        if p.algo == "grpo" and p.group_size < 2:
            raise ValueError(f"{where}: ppo.group_size must be at least 2 for GRPO")
        if e.max_steps < 1:
            raise ValueError(f"{where}: env.max_steps must be at least 1")
        if self.components.executor not in ("ray", "local"):
            raise ValueError(f"{where}: components.executor must be 'ray' or 'local'")
        if r.iterations < 1 or r.checkpoint_every < 1:
            raise ValueError(f"{where}: run.iterations and run.checkpoint_every must be at least 1")
