"""Label-free PPO (or GRPO) training on RLlib's new API stack.

``train(config, data, out)`` starts or joins Ray, starts (or finds) the shared actor pool of tools,
reward scorer and encoder, and trains the small MLP policy on the degraded training images of a
manifest. The run directory receives:

* ``checkpoints/iter_NNNNN/`` — RLlib checkpoints (every ``run.checkpoint_every`` iterations; the
  newest ``run.keep_checkpoints`` are kept) and ``checkpoints/latest.json`` pointing at the newest;
* ``policy.safetensors`` + ``policy.json`` — the standalone policy for inference (refreshed at each
  checkpoint, so an interrupted run still has one);
* ``metrics.csv`` (one row per iteration), ``learning_curve.png``, ``tensorboard/`` event files;
* ``config.yaml`` (the resolved configuration) and ``summary.json``.

``resume=True`` continues from ``checkpoints/latest.json``: the iterations already checkpointed are
kept (their metrics rows too) and training goes on to ``run.iterations``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from restore_ray.config import TrainConfig
from restore_ray.manifest import TrainingImage, training_images

log = logging.getLogger(__name__)

METRIC_COLUMNS = (
    "iteration", "env_steps", "episodes", "episode_return_mean", "initial_quality", "final_quality",
    "quality_gain", "episode_len", "stop_rate", "skipped_episodes", "policy_loss", "vf_loss", "entropy",
    "entropy_coeff", "env_steps_per_s", "seconds",
)


@dataclass
class TrainResult:
    """Where a training run wrote its outputs, and how it ended."""

    out: Path
    policy: Path
    iterations: int
    env_steps: int
    seconds: float
    metrics: list[dict[str, float]]


def entropy_schedule(c2: float, decay: float, steps_per_iteration: int, iterations: int) -> list[list[float]]:
    """Piecewise-linear RLlib schedule so that c2 is multiplied by ``decay`` after every iteration."""
    return [[i * steps_per_iteration, c2 * decay**i] for i in range(iterations + 1)]


def build_algorithm_config(cfg: TrainConfig, images: list[TrainingImage], executor_factory: Callable[[], Any],
                           tools: list[str]) -> Any:
    """The RLlib ``PPOConfig`` for this run (GRPO: PPO's loss with group-relative advantages, no critic)."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from policies.module import MaskedActorCriticModule
    from restore_ray.env import RestoreEnv
    from restore_ray.metrics_callback import RestoreMetricsCallback

    p, e, r = cfg.ppo, cfg.env, cfg.run
    grpo = p.algo == "grpo"
    env_config = {
        "images": images, "executor_factory": executor_factory, "tools": tools,
        "max_steps": e.max_steps, "stop_action": e.stop_action, "step_cost": e.step_cost,
        "reward_scale": e.reward_scale, "mask_repeats": e.mask_repeats, "max_image_side": r.max_image_side,
        "group_size": p.group_size if grpo else 1, "seed": r.seed,
        "memo_size": 4096 if cfg.components.cache_mb > 0 else 0,
    }
    config = (
        PPOConfig()
        .environment(RestoreEnv, env_config=env_config, disable_env_checking=True)
        .env_runners(num_env_runners=r.num_env_runners, num_envs_per_env_runner=r.num_envs_per_env_runner,
                     num_cpus_per_env_runner=1, sample_timeout_s=600.0,
                     batch_mode="complete_episodes" if grpo else "truncate_episodes")
        .learners(num_learners=0)
        .training(lr=p.lr, gamma=p.gamma, lambda_=p.lambda_, clip_param=p.clip_param,
                  vf_loss_coeff=0.0 if grpo else p.vf_loss_coeff,
                  entropy_coeff=entropy_schedule(p.entropy_coeff, p.entropy_decay, p.train_batch_size,
                                                 max(r.iterations, 1) + 1),
                  num_epochs=p.num_epochs, minibatch_size=p.minibatch_size,
                  train_batch_size_per_learner=p.train_batch_size, grad_clip=p.grad_clip,
                  use_kl_loss=False, use_critic=not grpo)
        .rl_module(rl_module_spec=RLModuleSpec(module_class=MaskedActorCriticModule,
                                               model_config={"hidden": [128, 128], "critic": not grpo}))
        .callbacks(RestoreMetricsCallback)
        .debugging(seed=r.seed, log_level="ERROR")
        .reporting(min_sample_timesteps_per_iteration=0)
    )
    if grpo:
        from restore_ray.grpo import GRPOLearner

        config.learners(learner_class=GRPOLearner)
    return config


def _get(d: dict, *keys: str, default: float = float("nan")) -> float:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    try:
        return float(d)
    except (TypeError, ValueError):
        return default


def _row(result: dict[str, Any], iteration: int, seconds: float) -> dict[str, float]:
    er = result.get("env_runners", {})
    learner = result.get("learners", {}).get("default_policy", {})
    steps = _get(result, "num_env_steps_sampled_lifetime")
    if steps != steps:  # nan
        steps = _get(er, "num_env_steps_sampled_lifetime")
    sampled = _get(er, "num_env_steps_sampled", default=0.0)
    return {
        "iteration": iteration, "env_steps": steps, "episodes": _get(er, "num_episodes_lifetime"),
        "episode_return_mean": _get(er, "episode_return_mean"), "initial_quality": _get(er, "initial_quality"),
        "final_quality": _get(er, "final_quality"), "quality_gain": _get(er, "quality_gain"),
        "episode_len": _get(er, "episode_len_mean"), "stop_rate": _get(er, "stop_rate"),
        "skipped_episodes": _get(er, "skipped_episodes_lifetime", default=0.0),
        "policy_loss": _get(learner, "policy_loss"), "vf_loss": _get(learner, "vf_loss"),
        "entropy": _get(learner, "entropy"), "entropy_coeff": _get(learner, "curr_entropy_coeff"),
        "env_steps_per_s": sampled / seconds if seconds > 0 else float("nan"), "seconds": seconds,
    }


def _read_metrics(path: Path, up_to: int | None = None) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with path.open() as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return [r for r in rows if up_to is None or r["iteration"] <= up_to]


def _write_metrics(path: Path, rows: list[dict[str, float]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def plot_learning_curve(rows: list[dict[str, float]], out: Path, title: str = "") -> Path:
    """Episode return and final reward quality against environment steps."""
    from restore_ray.figures import plt, save_figure, tight_below_title

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    steps = [r["env_steps"] for r in rows]
    ax1.plot(steps, [r["episode_return_mean"] for r in rows], marker="o", ms=3)
    ax1.set_xlabel("environment steps")
    ax1.set_ylabel("mean episode return")
    ax1.grid(alpha=0.3)
    ax2.plot(steps, [r["final_quality"] for r in rows], marker="o", ms=3, label="after the episode")
    ax2.plot(steps, [r["initial_quality"] for r in rows], ls="--", label="degraded input")
    ax2.set_xlabel("environment steps")
    ax2.set_ylabel("reward quality (normalised)")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.suptitle(title or "learning curve", fontsize=9)
    tight_below_title(fig)
    return save_figure(fig, out)


def _export_policy(algo: Any, cfg: TrainConfig, tools: list[str], encoder: str, encoder_dim: int, scorer: str,
                   out: Path, iteration: int, env_steps: float) -> Path:
    import datetime

    import torch

    from policies.export import PolicyMeta, save_policy
    from policies.nets import ActorCritic

    module = algo.get_module()
    net: ActorCritic = module.net
    meta = PolicyMeta(tools=tools, stop_action=cfg.env.stop_action, max_steps=cfg.env.max_steps, encoder=encoder,
                      encoder_dim=encoder_dim, scorer=scorer, hidden=list(net.hidden), critic=net.vf is not None,
                      mask_repeats=cfg.env.mask_repeats,
                      training={"algo": cfg.ppo.algo, "iterations": iteration, "env_steps": int(env_steps),
                                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                                "reward_scale": cfg.env.reward_scale, "step_cost": cfg.env.step_cost})
    with torch.no_grad():
        cpu = ActorCritic(net.obs_dim, net.n_actions, net.hidden, critic=net.vf is not None)
        cpu.load_state_dict({k: v.detach().cpu() for k, v in net.state_dict().items()})
    return save_policy(out / "policy.safetensors", cpu, meta)


def _checkpoint(algo: Any, ckpt_root: Path, iteration: int, keep: int) -> Path:
    path = ckpt_root / f"iter_{iteration:05d}"
    if path.exists():
        shutil.rmtree(path)
    algo.save_to_path(str(path))
    latest = ckpt_root / "latest.json"
    tmp = latest.with_suffix(".tmp")
    tmp.write_text(json.dumps({"iteration": iteration, "path": path.name}) + "\n")
    os.replace(tmp, latest)  # atomic: a kill never leaves a half-written pointer
    old = sorted(p for p in ckpt_root.glob("iter_*") if p.is_dir() and p != path)
    for p in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return path


def train(cfg: TrainConfig, data: str | os.PathLike, out: str | os.PathLike, address: str | None = None,
          resume: bool = False, progress: Callable[[dict[str, float]], None] | None = None,
          on_iteration: Callable[[int, Any], None] | None = None,
          registries: tuple[Any, Any, Any] | None = None) -> TrainResult:
    """Train a policy; see the module docstring for what lands in ``out``."""
    import ray

    from restore_ray.executors import ExecutorSpec, open_pool, release

    out = Path(out)
    ckpt_root = out / "checkpoints"
    latest = ckpt_root / "latest.json"
    if resume:
        if not latest.exists():
            raise FileNotFoundError(f"{latest}: nothing to resume; start without --resume")
        saved = TrainConfig.from_yaml(out / "config.yaml")
        cfg = saved.with_overrides({"run.iterations": cfg.run.iterations})
    elif latest.exists():
        raise FileExistsError(f"{out} already holds a training run; pass --resume to continue it, or choose "
                              "another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    images = training_images(data, split="train")

    started_ray = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        if address:
            ray.init(address=address, logging_level="ERROR", log_to_driver=True)
        else:
            ray.init(num_cpus=max(4, os.cpu_count() or 1), include_dashboard=False, logging_level="ERROR",
                     log_to_driver=True)
        started_ray = True

    spec = ExecutorSpec.from_settings(cfg.components, registries)
    pool = open_pool(spec)  # starts (or finds) the shared actors; env runners connect to them by name
    algo = None
    t_start = time.perf_counter()
    try:
        tools = pool.tool_names
        config = build_algorithm_config(cfg, images, spec.factory(), tools)
        algo = config.build_algo()
        start = 0
        rows: list[dict[str, float]] = []
        if resume:
            pointer = json.loads(latest.read_text())
            algo.restore_from_path(str(ckpt_root / pointer["path"]))
            start = int(pointer["iteration"])
            rows = _read_metrics(out / "metrics.csv", up_to=start)
            log.info("resumed from iteration %d", start)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tensorboard"), purge_step=start + 1 if resume else None)
        env_steps = rows[-1]["env_steps"] if rows else 0.0
        for iteration in range(start + 1, cfg.run.iterations + 1):
            t0 = time.perf_counter()
            result = algo.train()
            row = _row(result, iteration, time.perf_counter() - t0)
            rows.append(row)
            env_steps = row["env_steps"]
            _write_metrics(out / "metrics.csv", rows)
            for key, value in row.items():
                if key != "iteration" and value == value:
                    writer.add_scalar(f"charts/{key}" if key not in ("policy_loss", "vf_loss", "entropy")
                                      else f"losses/{key}", value, iteration)
            writer.flush()
            if iteration % cfg.run.checkpoint_every == 0 or iteration == cfg.run.iterations:
                _checkpoint(algo, ckpt_root, iteration, cfg.run.keep_checkpoints)
                _export_policy(algo, cfg, tools, pool.encoder_name, pool.encoder_dim, pool.scorer_name, out,
                               iteration, env_steps)
            if progress is not None:
                progress(row)
            if on_iteration is not None:
                on_iteration(iteration, algo)
        writer.close()
        if rows:
            plot_learning_curve(rows, out / "learning_curve.png",
                                title=f"{cfg.ppo.algo.upper()} — reward: {pool.scorer_name}, "
                                      f"encoder: {pool.encoder_name}, {len(tools)} tools")
        seconds = time.perf_counter() - t_start
        summary = {"iterations": cfg.run.iterations, "env_steps": int(env_steps), "seconds": seconds,
                   "tools": tools, "scorer": pool.scorer_name, "encoder": pool.encoder_name,
                   "final": rows[-1] if rows else None}
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return TrainResult(out, out / "policy.safetensors", cfg.run.iterations, int(env_steps), seconds, rows)
    finally:
        if algo is not None:
            algo.stop()
        if spec.kind == "local":
            release(spec)
        else:
            pool.close()
        if started_ray:
            ray.shutdown()
