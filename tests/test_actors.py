"""The shared actor pool on a real local Ray cluster: sharing, batching, restarts, errors, caching.

The components are small real ones defined here (an inverting tool, a brightening tool, a tool
that fails on a marked image, a deliberately slow brightness scorer, a channel-means encoder),
registered in fresh registries, so the tests depend on nothing but the pool itself.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
import ray
from ray import cloudpickle

from tool_actors.actors import Batching
from tool_actors.base import ComponentError, Encoder, InputError, Scorer, Tool
from tool_actors.executor import Executor
from tool_actors.local import LocalExecutor
from tool_actors.pool import ActorPool, MissingActorsError, PoolConfig, PoolStartError, placement
from tool_actors.registry import Entry, Registry

# Worker processes cannot import this test module by name: ship its classes by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

NAMESPACE = "restore-ray-test-actors"


class Invert(Tool):
    """255 − x."""

    name = "invert"
    category = "brighten"

    def process(self, batch: np.ndarray) -> np.ndarray:
        return 255 - batch


class Lift(Tool):
    """+40, clipped."""

    name = "lift"
    category = "brighten"

    def process(self, batch: np.ndarray) -> np.ndarray:
        return np.clip(batch.astype(np.int16) + 40, 0, 255).astype(np.uint8)


class Explode(Tool):
    """Fails on any image whose first pixel is 13, works otherwise."""

    name = "explode"
    category = "denoise"

    def process(self, batch: np.ndarray) -> np.ndarray:
        if (batch[:, 0, 0, 0] == 13).any():
            raise RuntimeError("kernel exploded")
        return batch.copy()


class SlowBrightness(Scorer):
    """Mean pixel value; each call costs 20 ms whatever the batch size, like a judge at small batch."""

    name = "slow_brightness"
    score_range = (0.0, 255.0)

    def score(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(0.02)
        return batch.mean(axis=(1, 2, 3))


class ChannelMeans(Encoder):
    """Per-channel means in [0, 1]."""

    name = "channel_means"
    dim = 3

    def encode(self, batch: np.ndarray) -> np.ndarray:
        return batch.mean(axis=(1, 2)) / 255.0


def _make(cls: type) -> object:
    def factory(weights_dir: str | None = None, device: str = "cpu") -> object:
        return cls()

    return factory


def _registries() -> dict[str, Registry]:
    tools: Registry[Tool] = Registry("tool")
    tools.register(Entry("invert", _make(Invert), category="brighten"))
    tools.register(Entry("lift", _make(Lift), category="brighten"))
    tools.register(Entry("explode", _make(Explode), category="denoise"))
    tools.register(Entry("weighted", _make(Invert), category="denoise", backend="neural", weights=("net.pth",)))
    scorers: Registry[Scorer] = Registry("scorer")
    scorers.register(Entry("slow_brightness", _make(SlowBrightness), category="NR"))
    encoders: Registry[Encoder] = Registry("encoder")
    encoders.register(Entry("channel_means", _make(ChannelMeans)))
    return {"tools": tools, "scorers": scorers, "encoders": encoders}


def _images(n: int, h: int = 16, w: int = 16, seed: int = 0) -> np.ndarray:
    images = np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = 0  # never the failure marker unless a test sets it
    return images


CONFIG = PoolConfig(
    tools=["invert", "lift", "explode"],
    scorer="slow_brightness",
    encoder="channel_means",
    namespace=NAMESPACE,
    tool_batching=Batching(max_batch=2, max_wait_ms=5.0),
    scorer_batching=Batching(max_batch=32, max_wait_ms=50.0),
    cache_mb=16,
    timeout_s=60,
    start_timeout_s=120,
)


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, namespace=NAMESPACE, log_to_driver=False)
    yield
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"].startswith(NAMESPACE):
            ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)
    ray.shutdown()


@pytest.fixture(scope="module")
def pool(ray_cluster) -> ActorPool:
    pool = ActorPool(CONFIG, **_registries())
    yield pool
    pool.shutdown()


def _wait_gone(name: str, namespace: str, timeout_s: float = 30.0) -> None:
    """Wait until a killed actor's name is released (``ray.kill`` is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get_actor(name, namespace=namespace)
        except ValueError:
            return
        time.sleep(0.05)
    raise AssertionError(f"actor {name!r} still registered {timeout_s} s after ray.kill")


@ray.remote(num_cpus=0)
def _client(pool_or_config: ActorPool | PoolConfig, images: np.ndarray) -> tuple[np.ndarray, str]:
    """A separate process that reaches the shared pool (a pickled pool, or a config to connect with)."""
    if isinstance(pool_or_config, PoolConfig):
        pool_or_config = ActorPool.connect(pool_or_config)
    out = pool_or_config.apply("invert", images)
    return out, pool_or_config.actor_ids()["tool:invert"]


@pytest.mark.ray
def test_pool_is_an_executor(pool: ActorPool) -> None:
    assert isinstance(pool, Executor)
    assert pool.tool_names == ["invert", "lift", "explode"]
    assert (pool.scorer_name, pool.encoder_name, pool.encoder_dim) == ("slow_brightness", "channel_means", 3)
    assert pool.actor_names == ["tool:invert", "tool:lift", "tool:explode", "scorer:slow_brightness",
                                "encoder:channel_means"]
    named = {a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == NAMESPACE}
    assert set(pool.actor_names) <= named


@pytest.mark.ray
def test_two_concurrent_clients_share_one_tool_actor(pool: ActorPool) -> None:
    a, b = _images(2, seed=1), _images(3, seed=2)
    before = pool.stats()["tool:invert"]["requests"]
    refs = [_client.remote(pool, a), _client.remote(CONFIG, b)]  # a pickled pool, and a fresh connect
    (out_a, id_a), (out_b, id_b) = ray.get(refs, timeout=60)
    np.testing.assert_array_equal(out_a, 255 - a)
    np.testing.assert_array_equal(out_b, 255 - b)
    assert id_a == id_b == pool.actor_ids()["tool:invert"]
    assert pool.stats()["tool:invert"]["requests"] == before + 2


@pytest.mark.ray
def test_scorer_batches_requests_of_concurrent_clients(pool: ActorPool) -> None:
    ray.get(pool.handle("scorer:slow_brightness").reset_stats.remote())
    n_clients, calls_each = 8, 4
    results: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    errors: list[BaseException] = []

    def client(c: int) -> None:
        try:
            for k in range(calls_each):
                images = _images(1, seed=1000 + 10 * c + k)  # distinct images: no cache hits
                results[c, k] = (images, pool.score(images))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    for images, scores in results.values():
        np.testing.assert_allclose(scores, images.mean(axis=(1, 2, 3)), rtol=1e-6)
    stats = pool.stats()["scorer:slow_brightness"]
    assert stats["requests"] == n_clients * calls_each
    assert stats["batched_images"] == n_clients * calls_each
    assert stats["batches"] < stats["requests"] / 2, stats["batch_sizes"]
    assert stats["max_batch_seen"] > 1


@pytest.mark.ray
def test_concurrent_requests_of_two_sizes_are_grouped_by_size(pool: ActorPool) -> None:
    ray.get(pool.handle("tool:lift").reset_stats.remote())
    small = [_images(1, 8, 8, seed=s) for s in range(3)]
    large = [_images(1, 24, 16, seed=10 + s) for s in range(3)]
    refs = [pool.apply_async("lift", x) for pair in zip(small, large) for x in pair]
    outs = ray.get(refs, timeout=60)
    for x, out in zip([x for pair in zip(small, large) for x in pair], outs):
        np.testing.assert_array_equal(out, np.minimum(x.astype(int) + 40, 255))
    stats = pool.stats()["tool:lift"]
    assert stats["batched_images"] == 6 and stats["max_batch_seen"] <= 2


@pytest.mark.ray
def test_a_request_larger_than_max_batch_is_split(pool: ActorPool) -> None:
    ray.get(pool.handle("tool:invert").reset_stats.remote())
    batch = _images(5, seed=77)
    np.testing.assert_array_equal(pool.apply("invert", batch), 255 - batch)
    stats = pool.stats()["tool:invert"]
    assert stats["requests"] == 1 and stats["max_batch_seen"] == 2 and stats["batched_images"] == 5


@pytest.mark.ray
def test_repeated_calls_hit_the_actor_cache(pool: ActorPool) -> None:
    batch = _images(2, seed=42)
    first = pool.apply("lift", batch)
    before = pool.stats()["tool:lift"]
    second = pool.apply("lift", batch)
    after = pool.stats()["tool:lift"]
    np.testing.assert_array_equal(second, first)
    assert after["batches"] == before["batches"]  # the component was not called again
    assert after["cache"]["hits"] == before["cache"]["hits"] + 2


@pytest.mark.ray
def test_exception_inside_a_tool_names_it_and_the_actor_keeps_serving(pool: ActorPool) -> None:
    pid = pool.stats()["tool:explode"]["pid"]
    bad = _images(1, seed=3)
    bad[0, 0, 0, 0] = 13
    with pytest.raises(ComponentError, match=r"tool 'explode' failed: RuntimeError: kernel exploded"):
        pool.apply("explode", bad)
    # a bad request batched together with good ones fails alone
    goods = [_images(1, seed=20 + s) for s in range(3)]
    refs = [pool.apply_async("explode", goods[0]), pool.apply_async("explode", bad),
            pool.apply_async("explode", goods[1]), pool.apply_async("explode", goods[2])]
    for ref, good in zip([refs[0], refs[2], refs[3]], goods):
        np.testing.assert_array_equal(ray.get(ref, timeout=60), good)
    with pytest.raises(ComponentError, match="tool 'explode'"):
        ray.get(refs[1], timeout=60)
    stats = pool.stats()["tool:explode"]
    assert stats["pid"] == pid and not stats["restarted"] and stats["errors"] == 2


@pytest.mark.ray
def test_wrong_dtype_or_shape_is_a_clear_error_naming_the_tool(pool: ActorPool) -> None:
    with pytest.raises(InputError, match=r"tool 'invert': expected dtype uint8, got float64"):
        pool.apply("invert", _images(1).astype(np.float64))
    with pytest.raises(InputError, match=r"tool 'lift': expected shape \(N, H, W, 3\)"):
        pool.apply_async("lift", _images(1)[0])
    # a caller holding the raw handle gets the same error from inside the actor
    with pytest.raises(InputError, match=r"tool 'invert': expected 3 RGB channels"):
        ray.get(pool.handle("tool:invert").call.remote(np.zeros((1, 4, 4, 4), np.uint8)), timeout=60)
    with pytest.raises(KeyError, match="unknown tool 'dehaze'; known tools: invert, lift, explode"):
        pool.apply("dehaze", _images(1))


@pytest.mark.ray
def test_killed_tool_actor_restarts_and_serves_again(pool: ActorPool) -> None:
    before = pool.stats()["tool:lift"]
    actor_id = pool.actor_ids()["tool:lift"]
    ray.kill(pool.handle("tool:lift"), no_restart=False)
    deadline = time.monotonic() + 60
    while True:  # ray.kill is asynchronous: wait for the new process
        stats = ray.get(pool.handle("tool:lift").stats.remote(), timeout=60)
        if stats["pid"] != before["pid"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert stats["pid"] != before["pid"] and stats["restarted"]
    assert stats["actor_id"] == actor_id
    batch = _images(2, seed=9)
    np.testing.assert_array_equal(pool.apply("lift", batch), np.minimum(batch.astype(int) + 40, 255))


@pytest.mark.ray
def test_local_executor_and_pool_give_identical_results(pool: ActorPool) -> None:
    local = LocalExecutor(CONFIG, **_registries())
    for seed, (h, w) in enumerate([(16, 16), (9, 31), (32, 8)]):
        batch = _images(3, h, w, seed=500 + seed)
        for tool in pool.tool_names:
            np.testing.assert_array_equal(pool.apply(tool, batch), local.apply(tool, batch))
        np.testing.assert_array_equal(pool.score(batch), local.score(batch))
        np.testing.assert_array_equal(pool.quality(batch), local.quality(batch))
        np.testing.assert_array_equal(pool.encode(batch), local.encode(batch))


@pytest.mark.ray
def test_connect_names_missing_actors_and_start_failures_clean_up(ray_cluster) -> None:
    config = PoolConfig(tools=["invert", "weighted"], namespace=NAMESPACE + "-other", weights_dir="/nonexistent",
                        start_timeout_s=60)
    with pytest.raises(MissingActorsError, match=r"no running actor for tool:invert, tool:weighted in namespace"):
        ActorPool.connect(config)
    with pytest.raises(PoolStartError, match=r"tool:weighted: .*missing weights file /nonexistent/net.pth"):
        ActorPool(config, **_registries())
    names = {a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
             if a["namespace"] == config.namespace}
    assert not names  # the invert actor it had started was killed again


@pytest.mark.ray
def test_a_running_pool_with_other_weights_is_not_silently_shared(pool: ActorPool) -> None:
    other = PoolConfig(**{**CONFIG.to_dict(), "weights_dir": "/elsewhere"})
    with pytest.raises(PoolStartError, match="already runs with weights_dir None, this pool asks for '/elsewhere'"):
        ActorPool(other, **_registries())
    assert pool.apply("invert", _images(1)).shape == (1, 16, 16, 3)  # the running pool was left alone


@pytest.mark.ray
def test_close_leaves_detached_actors_and_shutdown_kills_them(ray_cluster) -> None:
    config = PoolConfig(tools=["invert"], namespace=NAMESPACE + "-detached", detached=True)
    pool = ActorPool(config, **_registries())
    assert pool.started == ["tool:invert"]
    pool.close()
    again = ActorPool.connect(config)  # still running after close()
    assert again.apply("invert", _images(1)).shape == (1, 16, 16, 3)
    assert again.started == []
    pool.shutdown()
    with pytest.raises(MissingActorsError):
        ActorPool.connect(config)


def test_placement_of_neural_and_classical_components() -> None:
    config = PoolConfig(gpu_fraction=0.25, cpu_fraction=0.5)
    assert placement(config, "neural", cluster_gpus=1) == ({"num_cpus": 0.5, "num_gpus": 0.25}, "cuda")
    assert placement(config, "classical", cluster_gpus=1) == ({"num_cpus": 0.5}, "cpu")
    assert placement(config, "neural", cluster_gpus=0) == ({"num_cpus": 0.5}, "cpu")
    assert placement(PoolConfig(device="cpu"), "neural", cluster_gpus=4) == ({"num_cpus": 0.0}, "cpu")
    with pytest.raises(ValueError, match="device 'cuda' was asked for, but the Ray cluster has no GPU"):
        placement(PoolConfig(device="cuda"), "neural", cluster_gpus=0)


@pytest.mark.ray
def test_an_actor_killed_for_good_is_started_again_by_its_pool(ray_cluster) -> None:
    config = PoolConfig(tools=["invert"], namespace=NAMESPACE + "-revive")
    pool = ActorPool(config, **_registries())
    old_id = pool.actor_ids()["tool:invert"]
    ray.kill(pool.handle("tool:invert"), no_restart=True)
    _wait_gone("tool:invert", config.namespace)
    batch = _images(1, seed=4)
    np.testing.assert_array_equal(pool.apply("invert", batch), 255 - batch)  # re-resolved, then started again
    assert pool.actor_ids()["tool:invert"] != old_id
    found = ActorPool.connect(config)  # others find the new one by name
    assert found.actor_ids() == pool.actor_ids()
    ray.kill(pool.handle("tool:invert"), no_restart=True)
    _wait_gone("tool:invert", config.namespace)
    with pytest.raises(MissingActorsError, match="gone and this process did not start it"):
        found.apply("invert", batch)
    pool.shutdown()


@pytest.mark.ray
def test_unknown_names_fail_before_any_actor_starts(ray_cluster) -> None:
    config = PoolConfig(tools=["invert"], scorer="deqa", namespace=NAMESPACE + "-unknown")
    with pytest.raises(KeyError, match="unknown scorer 'deqa'; known scorers: slow_brightness"):
        ActorPool(config, **_registries())
    assert not [a for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == config.namespace]
