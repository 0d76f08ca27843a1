"""LocalExecutor and PoolConfig: the Executor interface in-process, with small real components."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from tool_actors.actors import Batching
from tool_actors.base import ComponentError, Encoder, InputError, Scorer, Tool, UnavailableError
from tool_actors.executor import Executor
from tool_actors.local import LocalExecutor
from tool_actors.pool import PoolConfig
from tool_actors.registry import Entry, Registry


class Invert(Tool):
    """255 − x: its own inverse, so a restoration is checkable exactly."""

    name = "invert"
    category = "brighten"

    def process(self, batch: np.ndarray) -> np.ndarray:
        return 255 - batch


class Lift(Tool):
    """Adds 40 to every pixel (clipped): the paper's constant-shift brightening."""

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


class Brightness(Scorer):
    """Mean pixel value, 0..255, higher is better."""

    name = "brightness"
    score_range = (0.0, 255.0)

    def score(self, batch: np.ndarray) -> np.ndarray:
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
    tools.register(Entry("invert", _make(Invert), category="brighten", embedded=True))
    tools.register(Entry("lift", _make(Lift), category="brighten", embedded=True))
    tools.register(Entry("explode", _make(Explode), category="denoise"))
    tools.register(Entry("weighted", _make(Invert), category="denoise", backend="neural", weights=("net.pth",)))
    scorers: Registry[Scorer] = Registry("scorer")
    scorers.register(Entry("brightness", _make(Brightness), category="NR", embedded=True))
    encoders: Registry[Encoder] = Registry("encoder")
    encoders.register(Entry("channel_means", _make(ChannelMeans), embedded=True))
    return {"tools": tools, "scorers": scorers, "encoders": encoders}


def _images(n: int, h: int = 16, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


@pytest.fixture()
def executor() -> LocalExecutor:
    config = PoolConfig(tools=["invert", "lift", "explode"], scorer="brightness", encoder="channel_means",
                        tool_batching={"max_batch": 2, "max_wait_ms": 1})
    with LocalExecutor(config, **_registries()) as ex:
        yield ex


def test_implements_the_executor_interface(executor: LocalExecutor) -> None:
    assert isinstance(executor, Executor)
    assert executor.tool_names == ["invert", "lift", "explode"]
    assert (executor.scorer_name, executor.encoder_name, executor.encoder_dim) == ("brightness", "channel_means", 3)


def test_results_are_the_components_results(executor: LocalExecutor) -> None:
    batch = _images(3)
    np.testing.assert_array_equal(executor.apply("invert", batch), 255 - batch)
    np.testing.assert_array_equal(executor.apply("invert", executor.apply("invert", batch)), batch)
    np.testing.assert_array_equal(executor.apply("lift", batch), np.minimum(batch.astype(int) + 40, 255))
    scores = executor.score(batch)
    assert scores.dtype == np.float32 and scores.shape == (3,)
    np.testing.assert_allclose(scores, batch.mean(axis=(1, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(executor.quality(batch), scores / 255.0, rtol=1e-6)
    emb = executor.encode(batch)
    assert emb.shape == (3, 3) and emb.dtype == np.float32
    np.testing.assert_allclose(emb, batch.mean(axis=(1, 2)) / 255.0, rtol=1e-6)


def test_unknown_tool_lists_the_known_ones(executor: LocalExecutor) -> None:
    with pytest.raises(KeyError, match="unknown tool 'sharpen'; known tools: invert, lift, explode"):
        executor.apply("sharpen", _images(1))


def test_bad_input_names_the_tool(executor: LocalExecutor) -> None:
    with pytest.raises(InputError, match=r"tool 'invert': expected dtype uint8, got float32"):
        executor.apply("invert", _images(1).astype(np.float32))
    with pytest.raises(InputError, match=r"tool 'lift': expected shape \(N, H, W, 3\).*image\[None\]"):
        executor.apply("lift", _images(1)[0])
    with pytest.raises(InputError, match=r"scorer 'brightness': expected 3 RGB channels"):
        executor.score(_images(1)[..., :2].copy())


def test_component_failure_names_it_and_the_executor_keeps_working(executor: LocalExecutor) -> None:
    bad = _images(2)
    bad[1, 0, 0, 0] = 13
    with pytest.raises(ComponentError, match=r"tool 'explode' failed: RuntimeError: kernel exploded"):
        executor.apply("explode", bad)
    good = _images(2, seed=5)
    good[:, 0, 0, 0] = 0
    np.testing.assert_array_equal(executor.apply("explode", good), good)
    assert executor.stats()["tool:explode"]["errors"] == 1


def test_repeated_calls_hit_the_cache(executor: LocalExecutor) -> None:
    batch = _images(4)
    first = executor.apply("invert", batch)
    stats = executor.stats()["tool:invert"]
    assert (stats["batches"], stats["cache"]["misses"], stats["cache"]["hits"]) == (2, 4, 0)  # max_batch 2
    again = executor.apply("invert", batch)
    np.testing.assert_array_equal(again, first)
    stats = executor.stats()["tool:invert"]
    assert (stats["batches"], stats["cache"]["hits"]) == (2, 4)
    assert executor.stats()["tool:lift"]["cache"]["hits"] == 0  # caches are per component


def test_large_batches_are_split_into_max_batch_chunks(executor: LocalExecutor) -> None:
    batch = _images(5)
    np.testing.assert_array_equal(executor.apply("lift", batch), np.minimum(batch.astype(int) + 40, 255))
    stats = executor.stats()["tool:lift"]
    assert stats["batch_sizes"] == {2: 2, 1: 1} and stats["max_batch_seen"] == 2


def test_cache_off_recomputes() -> None:
    config = PoolConfig(tools=["invert"], cache_mb=0)
    ex = LocalExecutor(config, **_registries())
    batch = _images(2)
    ex.apply("invert", batch)
    ex.apply("invert", batch)
    stats = ex.stats()["tool:invert"]
    assert (stats["batches"], stats["cache"]["hits"]) == (2, 0)


def test_embedded_means_the_registry_embedded_tools() -> None:
    ex = LocalExecutor(PoolConfig(), **_registries())
    assert ex.tool_names == ["invert", "lift"]
    with pytest.raises(RuntimeError, match="no scorer: set 'scorer'"):
        ex.score(_images(1))


def test_missing_weights_name_the_file(tmp_path) -> None:
    with pytest.raises(UnavailableError, match=r"tool 'weighted' is unavailable: missing weights file .*net.pth"):
        LocalExecutor(PoolConfig(tools=["weighted"], weights_dir=str(tmp_path), device="cpu"), **_registries())


def test_unknown_component_names_fail_early() -> None:
    with pytest.raises(KeyError, match="unknown scorer 'deqa'; known scorers: brightness"):
        LocalExecutor(PoolConfig(tools=["invert"], scorer="deqa"), **_registries())


def test_pool_config_round_trips_through_yaml(tmp_path) -> None:
    config = PoolConfig(tools=["invert", "lift"], scorer="brightness", namespace="exp",
                        scorer_batching=Batching(max_batch=16, max_wait_ms=3.0), cache_mb=64)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"pool": config.to_dict(), "train": {"steps": 1}}))
    loaded = PoolConfig.from_yaml(path)
    assert loaded == config
    assert loaded.scorer_batching == Batching(16, 3.0)


def test_pool_config_errors_are_helpful(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"unknown pool setting\(s\) cache_gb; known: .*cache_mb"):
        PoolConfig.from_dict({"cache_gb": 1})
    with pytest.raises(ValueError, match="tools must be a list of tool names or 'embedded'"):
        PoolConfig(tools="invert")
    with pytest.raises(ValueError, match="lists a name twice: lift"):
        PoolConfig(tools=["lift", "invert", "lift"])
    with pytest.raises(ValueError, match="max_batch must be a positive integer"):
        PoolConfig(scorer_batching={"max_batch": 0})
    with pytest.raises(ValueError, match=r"gpu_fraction must be in \(0, 1\]"):
        PoolConfig(gpu_fraction=1.5)
    path = tmp_path / "run.yaml"
    path.write_text("train: {steps: 1}\n")
    with pytest.raises(ValueError, match="no 'pool' section"):
        PoolConfig.from_yaml(path)
