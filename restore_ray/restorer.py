"""The Restorer: a trained policy restores an image in one deterministic pass.

At each step: encode the current image, build the observation exactly as in training, take the
argmax of the masked policy logits; STOP (or ``max_steps``) ends the pass. No search, no reflection,
no rollback: the reward scorer is not consulted to choose anything — it is only called to report
the per-step score in the plan (``score_steps=False`` skips even that).

The same class serves the CLI, the Serve app and Ray Data batch jobs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from policies.export import STOP, PolicyMeta, check_toolbox, load_policy
from policies.nets import ActorCritic
from policies.observation import action_mask
from restore_ray.imageio import check_rgb_u8
from restore_ray.planners import Planner, RestoreResult, Step
from tool_actors.executor import Executor


class Restorer(Planner):
    """One-pass restoration with a trained policy."""

    name = "learned"

    def __init__(self, net: ActorCritic, meta: PolicyMeta, executor: Executor | None = None,
                 score_steps: bool = True) -> None:
        self.net, self.meta, self.score_steps = net.eval(), meta, score_steps
        self._executor = executor
        if executor is not None:
            self._check(executor)

    @classmethod
    def from_policy(cls, path: str | os.PathLike, executor: Executor | None = None,
                    weights_dir: str | os.PathLike | None = None, score_steps: bool = True) -> Restorer:
        """Load ``policy.safetensors`` (+ .json). Without an executor, build an in-process one with the
        policy's tools, scorer and encoder."""
        net, meta = load_policy(path)
        if executor is None:
            from restore_ray.executors import local_executor

            executor = local_executor(meta.tools, meta.scorer, meta.encoder,
                                      None if weights_dir is None else str(weights_dir))
        return cls(net, meta, executor, score_steps=score_steps)

    def _check(self, executor: Executor) -> None:
        check_toolbox(self.meta, executor.tool_names)
        if executor.encoder_name != self.meta.encoder or executor.encoder_dim != self.meta.encoder_dim:
            raise ValueError(f"the policy observes images through encoder {self.meta.encoder!r} "
                             f"(dim {self.meta.encoder_dim}); the executor has {executor.encoder_name!r} "
                             f"(dim {executor.encoder_dim})")

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            raise RuntimeError("this Restorer has no executor; pass one or use Restorer.from_policy")
        return self._executor

    def choose(self, embedding: np.ndarray, used: np.ndarray, step: int) -> str:
        """The deterministic action for one state: a tool name or ``STOP``."""
        meta = self.meta
        obs = meta.layout.build(embedding, used, step, meta.max_steps)
        mask = action_mask(np.ones(len(meta.tools), np.float32), meta.stop_action, used, meta.mask_repeats)
        with torch.inference_mode():
            logits = self.net.logits(torch.from_numpy(obs)[None], torch.from_numpy(mask)[None])[0]
        return meta.actions[int(torch.argmax(logits))]

    def run(self, image: np.ndarray, executor: Executor | None = None) -> RestoreResult:
        if executor is not None and executor is not self._executor:
            self._check(executor)
            self._executor = executor
        return self.restore(image)

    def restore(self, image: np.ndarray) -> RestoreResult:
        """Restore one uint8 (H, W, 3) image; the result carries the plan with per-step score and time."""
        check_rgb_u8(image, "Restorer.restore")
        ex, meta = self.executor, self.meta
        t0 = time.perf_counter()
        res = RestoreResult(image, float("nan"), planner=self.name)
        if self.score_steps:
            res.initial_quality = float(ex.quality(image[None])[0])
            res.scorer_calls += 1
        used = np.zeros(len(meta.tools), np.float32)
        for step in range(meta.max_steps):
            s0 = time.perf_counter()
            embedding = ex.encode(res.image[None])[0]
            action = self.choose(embedding, used, step)
            if action == STOP:
                break
            res.image = ex.apply(action, res.image[None])[0]
            res.tool_calls += 1
            used[meta.tools.index(action)] = 1.0
            quality = float("nan")
            if self.score_steps:
                quality = float(ex.quality(res.image[None])[0])
                res.scorer_calls += 1
            res.steps.append(Step(action, quality, time.perf_counter() - s0))
        res.seconds = time.perf_counter() - t0
        return res


def save_plan(result: RestoreResult, path: str | os.PathLike, source: str | None = None) -> Path:
    """Write the plan of one restoration as JSON."""
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"source": source, **result.to_json()}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
