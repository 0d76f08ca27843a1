"""The shared pool: one named Ray actor per tool, plus one for the reward scorer and one for the encoder.

Every actor is a ``tool_actors.actors.ComponentActor`` named ``"<kind>:<name>"`` (``tool:clahe``,
``scorer:niqe``, ``encoder:stats``) in one Ray namespace (``PoolConfig.namespace``, default
``"restore-ray"``). Whoever starts the pool first builds the components; every later
``ActorPool(config)`` or ``ActorPool.connect(config)`` — in an RLlib env runner, a Serve replica
(whose own namespace is ``"serve"``, hence the explicit namespace) or a Ray Data worker — finds the
same actors by name and shares them, their request batching and their result caches.

Resources: a neural component asks for ``gpu_fraction`` of a GPU and runs on ``"cuda"`` when the
cluster has GPUs (four 0.25-GPU actors share one card); everything asks for ``cpu_fraction`` CPUs,
0 by default, because on a small machine env runners and learners take every whole CPU and a
helper actor that waits for one never starts. Give classical tools real CPUs on a big node
(``cpu_fraction: 1``) when they should not share cores with env runners.

``ActorPool`` implements ``tool_actors.executor.Executor`` with blocking methods (each waits at
most ``timeout_s``) and offers ``apply_async`` / ``score_async`` / ``encode_async``, which return
``ObjectRef``s (awaitable in async code such as Serve replicas) for callers that overlap requests.
A pool pickles as "connect to the same actors", so it can travel inside an RLlib ``env_config``.
"""

from __future__ import annotations

import dataclasses
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import ray
import yaml
from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError

from tool_actors.actors import Batching, ComponentActor, ComponentInfo, ComponentSpec, Kind
from tool_actors.base import check_batch, normalised_score
from tool_actors.registry import ENCODERS, SCORERS, TOOLS, Registry

Device = Literal["auto", "cpu", "cuda"]
EMBEDDED = "embedded"
KILL_WAIT_S = 10.0  # how long shutdown() waits for killed actors' names to be released


@dataclass
class PoolConfig:
    """Which components to share, and how their actors are named, placed and batched.

    Loadable from a dict or a YAML section (``PoolConfig.from_dict`` / ``from_yaml``); the
    batching fields take ``{max_batch: B, max_wait_ms: ms}``.
    """

    tools: list[str] | str = EMBEDDED  # tool names in action order, or "embedded" = TOOLS.embedded()
    scorer: str | None = None  # reward scorer name (SCORERS)
    encoder: str | None = None  # encoder name (ENCODERS)
    weights_dir: str | None = None  # local weights folder (else $RESTORE_RAY_WEIGHTS); never the network
    namespace: str = "restore-ray"  # Ray namespace of the named actors
    device: Device = "auto"  # neural components: "auto" = cuda when the cluster has GPUs
    gpu_fraction: float = 0.25  # GPUs per neural actor, used only when the cluster has GPUs
    cpu_fraction: float = 0.0  # CPUs per actor; 0 so helper actors never starve env runners
    detached: bool = False  # actors outlive the process that started them (kill with shutdown())
    max_restarts: int = 3  # Ray restarts a crashed actor this many times (-1: always)
    max_task_retries: int = 1  # calls in flight when an actor died are retried (components are pure)
    tool_batching: Batching = field(default_factory=lambda: Batching(max_batch=8, max_wait_ms=2.0))
    scorer_batching: Batching = field(default_factory=lambda: Batching(max_batch=32, max_wait_ms=5.0))
    encoder_batching: Batching = field(default_factory=lambda: Batching(max_batch=32, max_wait_ms=5.0))
    cache_mb: float = 128.0  # result cache per component (MiB, LRU by bytes); 0 turns caching off
    timeout_s: float = 120.0  # longest wait for one call's answer
    start_timeout_s: float = 600.0  # longest wait for all actors to build their components
    address: str | None = None  # Ray address to join when Ray is not initialised yet (None: local)

    def __post_init__(self) -> None:
        if isinstance(self.tools, str):
            if self.tools != EMBEDDED:
                raise ValueError(f"tools must be a list of tool names or {EMBEDDED!r}, got {self.tools!r}")
        else:
            self.tools = [str(t) for t in self.tools]
            if len(set(self.tools)) != len(self.tools):
                dupes = sorted({t for t in self.tools if self.tools.count(t) > 1})
                raise ValueError(f"tools lists a name twice: {', '.join(dupes)}")
        for name in ("tool_batching", "scorer_batching", "encoder_batching"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                setattr(self, name, Batching(**value))
            elif not isinstance(value, Batching):
                raise TypeError(f"{name} must be a Batching or a dict, got {type(value).__name__}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if not 0 < self.gpu_fraction <= 1:
            raise ValueError(f"gpu_fraction must be in (0, 1], got {self.gpu_fraction}")
        if self.cpu_fraction < 0:
            raise ValueError(f"cpu_fraction must be >= 0, got {self.cpu_fraction}")
        if self.cache_mb < 0:
            raise ValueError(f"cache_mb must be >= 0, got {self.cache_mb}")
        if self.timeout_s <= 0 or self.start_timeout_s <= 0:
            raise ValueError("timeout_s and start_timeout_s must be > 0")
        if self.max_restarts < -1 or self.max_task_retries < -1:
            raise ValueError("max_restarts and max_task_retries must be >= -1 (-1 means without limit)")
        if self.weights_dir is not None:
            self.weights_dir = str(self.weights_dir)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolConfig:
        """Build from plain data; an unknown key is an error listing the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown pool setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**dict(data))

    @classmethod
    def from_yaml(cls, path: str | Path, section: str | None = "pool") -> PoolConfig:
        """Load from a YAML file: its ``section`` mapping (the whole file when ``section`` is None)."""
        data = yaml.safe_load(Path(path).read_text()) or {}
        if section is not None:
            if not isinstance(data, Mapping) or section not in data:
                raise ValueError(f"{path}: no {section!r} section (top-level keys: {', '.join(data or {})})")
            data = data[section] or {}
        if not isinstance(data, Mapping):
            raise TypeError(f"{path}: the pool settings must be a mapping, got {type(data).__name__}")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (round-trips through ``from_dict`` and YAML)."""
        out = dataclasses.asdict(self)
        if isinstance(self.tools, list):
            out["tools"] = list(self.tools)
        return out

    def batching(self, kind: Kind) -> Batching:
        """The batching settings of one kind of actor."""
        return {"tool": self.tool_batching, "scorer": self.scorer_batching, "encoder": self.encoder_batching}[kind]

    def components(self, tools: Registry[Any] = TOOLS) -> list[tuple[Kind, str]]:
        """``(kind, name)`` of every component, tools first in action order."""
        if self.tools == EMBEDDED:
            names = tools.embedded()
            if not names:
                raise ValueError(f"tools 'embedded': the {tools.kind} registry has no embedded entries; list tool names")
        else:
            names = list(self.tools)  # may be empty: a pool of just the scorer and/or the encoder
        out: list[tuple[Kind, str]] = [("tool", n) for n in names]
        if self.scorer is not None:
            out.append(("scorer", self.scorer))
        if self.encoder is not None:
            out.append(("encoder", self.encoder))
        if not out:
            raise ValueError("the pool configuration names no component: list tools, a scorer or an encoder")
        return out


def actor_key(kind: Kind, name: str) -> str:
    """The actor's name in its namespace: ``"<kind>:<name>"``."""
    return f"{kind}:{name}"


def placement(config: PoolConfig, backend: str, cluster_gpus: float) -> tuple[dict[str, float], str]:
    """Ray resource options and the device for one component's actor.

    Neural components take ``gpu_fraction`` of a GPU and run on cuda when the cluster has GPUs
    (unless ``device`` is ``"cpu"``); classical ones never ask for a GPU.
    """
    options: dict[str, float] = {"num_cpus": config.cpu_fraction}
    if backend != "neural" or config.device == "cpu":
        return options, "cpu"
    if cluster_gpus <= 0:
        if config.device == "cuda":
            raise ValueError("device 'cuda' was asked for, but the Ray cluster has no GPU; use device 'auto' or 'cpu'")
        return options, "cpu"
    options["num_gpus"] = config.gpu_fraction
    return options, "cuda"


class MissingActorsError(LookupError):
    """``ActorPool.connect`` found no running actor for some components; the message names them."""


class PoolStartError(RuntimeError):
    """Some component actors could not be started; the message names each with its cause."""


class ActorPool:
    """Named, shared component actors behind the ``Executor`` interface.

    ``ActorPool(config)`` starts the actors that are not running yet and finds the others;
    ``ActorPool.connect(config)`` only finds them. Custom registries (e.g. in tests) may be passed
    for resolving names; the actors build their components from the entries found there.
    """

    def __init__(
        self,
        config: PoolConfig,
        *,
        tools: Registry[Any] = TOOLS,
        scorers: Registry[Any] = SCORERS,
        encoders: Registry[Any] = ENCODERS,
        start: bool = True,
    ) -> None:
        self.config = config
        self._registries: dict[str, Registry[Any]] = {"tool": tools, "scorer": scorers, "encoder": encoders}
        self._components = config.components(tools)
        self._tool_names = [n for k, n in self._components if k == "tool"]
        self._handles: dict[str, Any] = {}
        self._info: dict[str, ComponentInfo] = {}
        self._specs: dict[str, ComponentSpec] = {}
        self._started: set[str] = set()
        _ensure_ray(config)
        if start:
            self._start_all()
        else:
            self._find_all()

    @classmethod
    def connect(cls, config: PoolConfig, *, tools: Registry[Any] = TOOLS) -> ActorPool:
        """Find the running actors of ``config``; ``MissingActorsError`` names any that are not running."""
        return cls(config, tools=tools, start=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Unpickled copies (e.g. inside env runners) connect to the same actors; tool names are
        # resolved here so the copy does not depend on the registry it is unpickled with.
        return (_connect_pickled, (dataclasses.replace(self.config, tools=list(self._tool_names)),))

    # ---- Executor ------------------------------------------------------------------------------------
    @property
    def tool_names(self) -> list[str]:
        """Tools in action order."""
        return list(self._tool_names)

    @property
    def scorer_name(self) -> str:
        """The reward scorer's name."""
        return self._require("scorer", self.config.scorer)

    @property
    def encoder_name(self) -> str:
        """The encoder's name."""
        return self._require("encoder", self.config.encoder)

    @property
    def encoder_dim(self) -> int:
        """Length of an embedding."""
        dim = self._info[actor_key("encoder", self.encoder_name)].dim
        assert dim is not None
        return dim

    def apply(self, tool: str, images: np.ndarray) -> np.ndarray:
        """Run ``tool`` on a uint8 (N, H, W, 3) batch through its shared actor."""
        return self._call(self._tool_key(tool), images)

    def score(self, images: np.ndarray) -> np.ndarray:
        """Raw reward-scorer scores, float32 (N,)."""
        return self._call(actor_key("scorer", self.scorer_name), images)

    def quality(self, images: np.ndarray) -> np.ndarray:
        """Normalised, higher-is-better scores, float32 (N,)."""
        return self.normalise(self.score(images))

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Embeddings, float32 (N, encoder_dim)."""
        return self._call(actor_key("encoder", self.encoder_name), images)

    def close(self) -> None:
        """Kill the non-detached actors this pool started and forget every handle.

        Actors found rather than started, and detached ones, keep serving other processes
        (``shutdown`` kills detached ones too).
        """
        self._kill([k for k in self._started if not self.config.detached])
        self._handles.clear()

    # ---- async-friendly access -------------------------------------------------------------------------
    def apply_async(self, tool: str, images: np.ndarray) -> ray.ObjectRef:
        """Submit a tool call; ``ray.get`` (or ``await``) the returned ref for the (N, H, W, 3) result."""
        key = self._tool_key(tool)
        return self._submit(key, images)

    def score_async(self, images: np.ndarray) -> ray.ObjectRef:
        """Submit a scoring call; the ref resolves to raw scores, float32 (N,)."""
        return self._submit(actor_key("scorer", self.scorer_name), images)

    def encode_async(self, images: np.ndarray) -> ray.ObjectRef:
        """Submit an encoding call; the ref resolves to float32 (N, encoder_dim)."""
        return self._submit(actor_key("encoder", self.encoder_name), images)

    def normalise(self, scores: np.ndarray) -> np.ndarray:
        """Raw scorer scores on the reward scale (see ``tool_actors.base.normalised_score``)."""
        info = self._info[actor_key("scorer", self.scorer_name)]
        assert info.score_range is not None and info.higher_is_better is not None
        return normalised_score(scores, info.score_range, info.higher_is_better)

    # ---- introspection and life cycle ----------------------------------------------------------------------
    @property
    def actor_names(self) -> list[str]:
        """Every actor's name in the namespace, tools first."""
        return [actor_key(k, n) for k, n in self._components]

    def handle(self, key: str) -> Any:
        """The actor handle of ``"<kind>:<name>"``."""
        if key not in self._handles:
            raise KeyError(f"no actor {key!r} in this pool; actors: {', '.join(self.actor_names)}")
        return self._handles[key]

    def info(self, key: str) -> ComponentInfo:
        """What the actor ``"<kind>:<name>"`` hosts."""
        self.handle(key)
        return self._info[key]

    def actor_ids(self) -> dict[str, str]:
        """Ray actor id (hex) of every actor."""
        return {key: h._actor_id.hex() for key, h in self._handles.items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each actor's counters: requests, batches, cache hits, pid, restarts."""
        keys = list(self._handles)
        values = ray.get([self._handles[k].stats.remote() for k in keys], timeout=self.config.timeout_s)
        return dict(zip(keys, values))

    def clear_caches(self) -> None:
        """Empty every actor's result cache (e.g. between benchmark rounds)."""
        ray.get([h.clear_cache.remote() for h in self._handles.values()], timeout=self.config.timeout_s)

    def reset_stats(self) -> None:
        """Zero every actor's request and batch counters."""
        ray.get([h.reset_stats.remote() for h in self._handles.values()], timeout=self.config.timeout_s)

    @property
    def started(self) -> list[str]:
        """Actors this pool created (the others were already running)."""
        return sorted(self._started)

    def shutdown(self) -> None:
        """Kill every actor this pool started, detached or not, and forget every handle."""
        self._kill(list(self._started))
        self._handles.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals -------------------------------------------------------------------------------------
    def _require(self, kind: str, name: str | None) -> str:
        if name is None:
            raise RuntimeError(f"this pool has no {kind}: set {kind!r} in the pool configuration")
        return name

    def _tool_key(self, tool: str) -> str:
        if tool not in self._tool_names:
            raise KeyError(f"unknown tool {tool!r}; known tools: {', '.join(self._tool_names)}")
        return actor_key("tool", tool)

    def _submit(self, key: str, images: np.ndarray) -> ray.ObjectRef:
        check_batch(images, _owner(key))
        return self.handle(key).call.remote(images)

    def _call(self, key: str, images: np.ndarray) -> np.ndarray:
        for attempt in range(2):
            ref = self._submit(key, images)
            try:
                return ray.get(ref, timeout=self.config.timeout_s)
            except GetTimeoutError:
                ray.cancel(ref)
                raise TimeoutError(
                    f"{_owner(key)} gave no answer within {self.config.timeout_s:g} s (pool setting timeout_s); "
                    "it may be overloaded or stuck — see its stats() and the Ray logs"
                ) from None
            except RayActorError:
                if attempt == 1:
                    raise
                self._reresolve(key)
        raise AssertionError("unreachable")

    def _reresolve(self, key: str) -> None:
        """After an actor died for good: find its successor by name, or start it again if ours."""
        handle = _find_actor(key, self.config.namespace)
        if handle is None:
            if key not in self._specs:
                raise MissingActorsError(
                    f"actor {key!r} in namespace {self.config.namespace!r} is gone and this process did not start "
                    "it; restart the pool where it was started"
                )
            self._create(key)
            self._wait_ready([key])
            return
        self._handles[key] = handle

    def _start_all(self) -> None:
        gpus = float(ray.cluster_resources().get("GPU", 0))
        options: dict[str, dict[str, float]] = {}
        for kind, name in self._components:  # resolve everything before starting anything
            entry = self._registries[kind].get(name)  # KeyError naming the known ones
            key = actor_key(kind, name)
            options[key], device = placement(self.config, entry.backend, gpus)
            self._specs[key] = ComponentSpec(kind, entry, self.config.weights_dir, device)
        for key in self._specs:
            found = _find_actor(key, self.config.namespace)
            if found is None:
                self._create(key, options[key])
            else:
                self._handles[key] = found
        self._wait_ready(list(self._handles))
        for key, info in self._info.items():
            if key not in self._started and info.weights_dir != self.config.weights_dir:
                self._kill(list(self._started))
                raise PoolStartError(
                    f"actor {key!r} in namespace {self.config.namespace!r} already runs with weights_dir "
                    f"{info.weights_dir!r}, this pool asks for {self.config.weights_dir!r}; use another namespace "
                    "or shut the running pool down"
                )

    def _create(self, key: str, options: Mapping[str, float] | None = None) -> None:
        spec = self._specs[key]
        if options is None:
            gpus = float(ray.cluster_resources().get("GPU", 0))
            options, _ = placement(self.config, spec.entry.backend, gpus)
        self._handles[key] = ComponentActor.options(
            name=key,
            namespace=self.config.namespace,
            get_if_exists=True,
            lifetime="detached" if self.config.detached else None,
            max_restarts=self.config.max_restarts,
            max_task_retries=self.config.max_task_retries,
            **options,
        ).remote(spec, self.config.batching(spec.kind), self.config.cache_mb)
        self._started.add(key)

    def _find_all(self) -> None:
        missing = []
        for kind, name in self._components:
            key = actor_key(kind, name)
            handle = _find_actor(key, self.config.namespace)
            if handle is None:
                missing.append(key)
            else:
                self._handles[key] = handle
        if missing:
            raise MissingActorsError(
                f"no running actor for {', '.join(missing)} in namespace {self.config.namespace!r}; start the pool "
                "first (ActorPool(config)) or check the namespace"
            )
        self._wait_ready(list(self._handles), connecting=True)

    def _wait_ready(self, keys: list[str], connecting: bool = False) -> None:
        deadline = time.monotonic() + self.config.start_timeout_s
        refs = {key: self._handles[key].info.remote() for key in keys}
        failures: dict[str, str] = {}
        for key, ref in refs.items():
            try:
                self._info[key] = ray.get(ref, timeout=max(0.0, deadline - time.monotonic()))
            except GetTimeoutError:
                failures[key] = f"not ready after {self.config.start_timeout_s:g} s (pool setting start_timeout_s)"
            except RayActorError as err:
                failures[key] = _creation_cause(err)
        if failures:
            self._kill(list(self._started))
            lines = "; ".join(f"{key}: {cause}" for key, cause in failures.items())
            if connecting:
                raise MissingActorsError(
                    f"actors found in namespace {self.config.namespace!r} are not serving: {lines}"
                )
            raise PoolStartError(f"could not start the shared actors: {lines}")

    def _kill(self, keys: list[str]) -> None:
        """Kill these actors and wait (briefly) until their names are free for a fresh start."""
        killed = []
        for key in keys:
            handle = self._handles.get(key) or _find_actor(key, self.config.namespace)
            if handle is not None:
                ray.kill(handle, no_restart=True)
                killed.append(key)
            self._started.discard(key)
            self._handles.pop(key, None)
        deadline = time.monotonic() + KILL_WAIT_S
        while killed and time.monotonic() < deadline:  # ray.kill is asynchronous
            killed = [key for key in killed if _find_actor(key, self.config.namespace) is not None]
            if killed:
                time.sleep(0.05)


def _connect_pickled(config: PoolConfig) -> ActorPool:
    return ActorPool.connect(config)


def _owner(key: str) -> str:
    kind, _, name = key.partition(":")
    return f"{kind} {name!r}"


def _find_actor(key: str, namespace: str) -> Any | None:
    try:
        return ray.get_actor(key, namespace=namespace)
    except ValueError:
        return None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _creation_cause(err: RayActorError) -> str:
    """The last line of a dead actor's error (the exception raised in ``__init__``), without colour codes."""
    text = _ANSI.sub("", str(getattr(err, "error_msg", "") or err))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if isinstance(err, ActorDiedError) and lines:
        return lines[-1]
    return text or type(err).__name__


def _ensure_ray(config: PoolConfig) -> None:
    if not ray.is_initialized():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ray.init(address=config.address, namespace=config.namespace)
