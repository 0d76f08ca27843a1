"""The restoration environment (gymnasium): choose the next tool for the current image.

* state: the current image s_t;
* observation: ``{"obs": embedding ⊕ action record ⊕ t/T, "action_mask": allowed actions}``
  (``policies.observation``);
* actions: the tools in a fixed order, plus STOP when enabled;
* reward (Eq. 9): ``reward_scale · (q(s_{t+1}) − q(s_t)) − step_cost``, q = the normalised,
  higher-is-better reward score; STOP earns 0 and ends the episode;
* an episode ends at STOP or after ``max_steps`` tool calls.

The environment only talks to an ``Executor`` (shared Ray actors, or in-process for tests): no model
is loaded here. It sees degraded images only (``manifest.TrainingImage``: an id and an lq path), so
no ground truth can enter training.

Robustness: if a tool, the scorer or the encoder fails on an image (including a crashed actor that
is restarting), that episode is skipped — counted in ``skipped_episodes``, logged, and reported
(``info["skipped"]`` on the failed step; ``info["skipped_before"]`` at reset for images that failed
before an episode could start) — and training goes on. If most recent episodes fail, the error is raised, so a
broken setup never trains silently on nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import gymnasium as gym
import numpy as np

from policies.observation import ObservationLayout, action_mask
from restore_ray.imageio import read_image
from restore_ray.manifest import TrainingImage
from tool_actors.base import InputError
from tool_actors.executor import Executor

log = logging.getLogger(__name__)


@dataclass
class EpisodeStats:
    """Counters over the life of one environment."""

    episodes: int = 0
    skipped_episodes: int = 0
    tool_calls: int = 0
    last_error: str = ""


def downscale(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """Area-downscale so the longer side is at most ``max_side`` (None: unchanged)."""
    if max_side is None or max(image.shape[:2]) <= max_side:
        return image
    scale = max_side / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def content_key(image: np.ndarray) -> bytes:
    """A content hash of an image (shape + bytes)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray(image.shape, np.int64).tobytes())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.digest()


class RestoreEnv(gym.Env):
    """Gymnasium environment over a list of degraded training images.

    ``config`` keys (all but ``images`` and ``executor_factory`` optional):
    ``images`` (list of ``TrainingImage``), ``executor_factory`` (a picklable callable returning an
    ``Executor``), ``max_steps`` (5), ``stop_action`` (True), ``step_cost`` (0.0), ``reward_scale``
    (10.0), ``mask_repeats`` (False), ``group_size`` (1: a new image every episode; G: the same image
    for G consecutive episodes, for GRPO), ``max_image_side`` (256), ``max_failure_rate`` (0.5),
    ``memo_size`` (4096 images whose quality and embedding are remembered by content; 0: none),
    ``seed``.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        images: Sequence[TrainingImage] = config["images"]
        if not images:
            raise ValueError("RestoreEnv needs at least one training image")
        for im in images:
            if not isinstance(im, TrainingImage):
                raise TypeError("RestoreEnv takes manifest.TrainingImage items (id + lq path), never ground truth; "
                                f"got {type(im).__name__}")
        self.images = list(images)
        self._factory: Callable[[], Executor] = config["executor_factory"]
        self._executor: Executor | None = None
        self.max_steps = int(config.get("max_steps", 5))
        self.stop_action = bool(config.get("stop_action", True))
        self.step_cost = float(config.get("step_cost", 0.0))
        self.reward_scale = float(config.get("reward_scale", 10.0))
        self.mask_repeats = bool(config.get("mask_repeats", False))
        self.group_size = max(1, int(config.get("group_size", 1)))
        self.max_image_side = config.get("max_image_side", 256)
        self.max_failure_rate = float(config.get("max_failure_rate", 0.5))
        self.memo_size = int(config.get("memo_size", 4096))  # 0: score and encode every image again
        worker = int(getattr(config, "worker_index", 0)) * 1000 + int(getattr(config, "vector_index", 0))
        self._rng = np.random.default_rng([int(config.get("seed", 0)), worker])

        ex = self.executor
        self.tools = list(config.get("tools") or ex.tool_names)
        unknown = [t for t in self.tools if t not in ex.tool_names]
        if unknown:
            raise KeyError(f"tools {unknown} are not in the executor's toolbox {ex.tool_names}")
        self.available = np.array([t in ex.tool_names for t in self.tools], np.float32)
        self.layout = ObservationLayout(ex.encoder_dim, len(self.tools))
        self.n_actions = len(self.tools) + (1 if self.stop_action else 0)
        self.observation_space = gym.spaces.Dict({
            "obs": gym.spaces.Box(-np.inf, np.inf, (self.layout.dim,), np.float32),
            "action_mask": gym.spaces.Box(0.0, 1.0, (self.n_actions,), np.float32),
        })
        self.action_space = gym.spaces.Discrete(self.n_actions)

        self.stats = EpisodeStats()
        self._recent = deque(maxlen=20)  # 1 = skipped episode
        self._pixels: dict[str, np.ndarray] = {}
        self._memo: OrderedDict[bytes, tuple[float, np.ndarray]] = OrderedDict()
        self._order: list[int] = []
        self._episode_in_group = 0
        self._seed_applied: int | None = None
        self._image_index = 0
        self._reset_state()

    # ------------------------------------------------------------------ executor access
    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = self._factory()
        return self._executor

    def _look(self, image: np.ndarray) -> tuple[float, np.ndarray]:
        """(quality, embedding) of an image, memoised by content."""
        key = content_key(image)
        hit = self._memo.get(key)
        if hit is not None:
            self._memo.move_to_end(key)
            return hit
        batch = image[None]
        q = float(self.executor.quality(batch)[0])
        emb = np.asarray(self.executor.encode(batch)[0], np.float32)
        if self.memo_size > 0:
            self._memo[key] = (q, emb)
            if len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)
        return q, emb

    # ------------------------------------------------------------------ episode bookkeeping
    def _reset_state(self) -> None:
        self.image: np.ndarray | None = None
        self.image_id = ""
        self.t = 0
        self.used = np.zeros(len(self.tools), np.float32)
        self.quality = 0.0
        self.initial_quality = 0.0
        self.embedding = np.zeros(self.layout.encoder_dim, np.float32)
        self.plan: list[str] = []

    def _next_index(self) -> int:
        if self._episode_in_group == 0 or self.group_size == 1:
            if not self._order:
                self._order = list(self._rng.permutation(len(self.images)))
            self._image_index = int(self._order.pop())
        self._episode_in_group = (self._episode_in_group + 1) % self.group_size
        return self._image_index

    def _load(self, index: int) -> np.ndarray:
        item = self.images[index]
        if item.id not in self._pixels:
            self._pixels[item.id] = downscale(read_image(item.lq_path), self.max_image_side)
        return self._pixels[item.id]

    def _observation(self) -> dict[str, np.ndarray]:
        return {"obs": self.layout.build(self.embedding, self.used, self.t, self.max_steps),
                "action_mask": action_mask(self.available, self.stop_action, self.used, self.mask_repeats)}

    def _record_failure(self, where: str, err: Exception) -> None:
        self.stats.skipped_episodes += 1
        self.stats.last_error = f"{where}: {type(err).__name__}: {err}"
        self._recent.append(1)
        log.warning("skipping episode on image %s (%s)", self.image_id or "?", self.stats.last_error)
        if len(self._recent) >= 10 and sum(self._recent) / len(self._recent) > self.max_failure_rate:
            raise RuntimeError(f"{sum(self._recent)} of the last {len(self._recent)} episodes failed; "
                               f"last error: {self.stats.last_error}")

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        # A seed restarts the image order only when it is new: RLlib's env runners pass their fixed
        # seed again before every episode in ``complete_episodes`` mode (GRPO), which would otherwise
        # serve the first image of one permutation for ever.
        if seed is not None and seed != self._seed_applied:
            self._seed_applied = seed
            self._rng = np.random.default_rng(seed)
            self._order = []
            self._episode_in_group = 0
        skipped_before = 0
        for _ in range(len(self.images)):
            self._reset_state()
            index = self._next_index()
            self.image_id = self.images[index].id
            try:
                self.image = self._load(index)
                self.quality, self.embedding = self._look(self.image)
            except InputError:
                raise
            except Exception as err:  # noqa: BLE001 - counted, logged, and bounded by max_failure_rate
                self._record_failure("reset", err)
                self._episode_in_group = 0
                skipped_before += 1
                continue
            self.initial_quality = self.quality
            self.stats.episodes += 1
            return self._observation(), {"image": self.image_id, "quality": self.quality, "step": 0,
                                         "skipped_before": skipped_before}
        raise RuntimeError(f"every training image failed at reset; last error: {self.stats.last_error}")

    def step(self, action: int):
        if self.image is None:
            raise RuntimeError("step() called before reset()")
        action = int(action)
        mask = action_mask(self.available, self.stop_action, self.used, self.mask_repeats)
        if not 0 <= action < self.n_actions or mask[action] == 0:
            raise ValueError(f"action {action} is not allowed here (mask {mask.astype(int).tolist()})")
        info: dict[str, Any] = {"image": self.image_id, "skipped": False}
        if self.stop_action and action == len(self.tools):
            info.update(tool="STOP", quality=self.quality, step=self.t, final_quality=self.quality,
                        initial_quality=self.initial_quality, plan=list(self.plan))
            self._recent.append(0)
            return self._observation(), 0.0, True, False, info
        tool = self.tools[action]
        try:
            new_image = self.executor.apply(tool, self.image[None])[0]
            self.stats.tool_calls += 1
            new_quality, new_embedding = self._look(new_image)
        except InputError:
            raise
        except Exception as err:  # noqa: BLE001 - the episode is skipped; see the module docstring
            self._record_failure(f"tool {tool}", err)
            info.update(tool=tool, skipped=True, quality=self.quality, step=self.t, final_quality=self.quality,
                        initial_quality=self.initial_quality, plan=list(self.plan))
            return self._observation(), 0.0, True, False, info
        reward = self.reward_scale * (new_quality - self.quality) - self.step_cost
        self.image, self.quality, self.embedding = new_image, new_quality, new_embedding
        self.used[action] = 1.0
        self.t += 1
        self.plan.append(tool)
        done = self.t >= self.max_steps
        info.update(tool=tool, quality=self.quality, step=self.t)
        if done:
            info.update(final_quality=self.quality, initial_quality=self.initial_quality, plan=list(self.plan))
            self._recent.append(0)
        return self._observation(), float(reward), done, False, info

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None
