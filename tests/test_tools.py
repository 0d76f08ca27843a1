"""Registry-wide checks: every tool that can run here gets the same contract tests.

Parametrised over every *available* entry of ``TOOLS`` (classical, and neural ones whose weights
or packages are present), so a tool added later is checked without touching this file.
"""

from __future__ import annotations

import numpy as np
import pytest

from restore_ray.datasets import builtin_crops
from tool_actors.base import ComponentError, InputError, Tool
from tool_actors.registry import TOOLS

AVAILABLE = [e.name for e in TOOLS.entries() if e.availability()[0]]
H, W = 48, 64

_built: dict[str, Tool] = {}


def tool_named(name: str) -> Tool:
    """Build each tool once per session (neural tools load weights)."""
    if name not in _built:
        _built[name] = TOOLS.build(name)
    return _built[name]


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    """Two different natural 48×64 crops, uint8 (2, 48, 64, 3)."""
    crops = builtin_crops("test", 2, W, seed=3)
    return np.stack([c[:H] for c in crops])


def test_registry_has_available_tools_in_every_category() -> None:
    from restore_ray.names import CATEGORIES

    cats = {TOOLS.get(n).category for n in AVAILABLE}
    assert set(CATEGORIES) <= cats


@pytest.mark.parametrize("name", AVAILABLE)
def test_output_shape_dtype_range(name: str, batch: np.ndarray) -> None:
    tool = tool_named(name)
    out = tool(batch)
    assert out.dtype == np.uint8 and out.shape == batch.shape
    assert tool.name == name and tool.category == TOOLS.get(name).category
    for img in out:  # a textured input never becomes a flat image
        assert float(img.std()) > 1.0, f"{name} flattened a textured image"


@pytest.mark.parametrize("name", AVAILABLE)
def test_deterministic(name: str, batch: np.ndarray) -> None:
    first = tool_named(name)(batch)
    again = tool_named(name)(batch.copy())
    assert np.array_equal(first, again)
    fresh = TOOLS.build(name)(batch)
    assert np.array_equal(first, fresh)


@pytest.mark.parametrize("name", AVAILABLE)
def test_batch_equals_per_image(name: str, batch: np.ndarray) -> None:
    tool = tool_named(name)
    whole = tool(batch)
    for i in range(len(batch)):
        assert np.array_equal(whole[i], tool(batch[i:i + 1])[0]), f"{name}: image {i} depends on its batch"


@pytest.mark.parametrize("name", AVAILABLE)
def test_input_untouched(name: str, batch: np.ndarray) -> None:
    before = batch.copy()
    tool_named(name)(batch)
    assert np.array_equal(batch, before)


@pytest.mark.parametrize("name", AVAILABLE)
@pytest.mark.parametrize("bad, fragment", [
    (np.zeros((1, H, W, 3), np.float32), "uint8"),
    (np.zeros((H, W, 3), np.uint8), "shape"),
    (np.zeros((1, H, W, 4), np.uint8), "3 RGB channels"),
    (np.zeros((1, H, W), np.uint8), "shape"),
    (np.zeros((0, H, W, 3), np.uint8), "empty"),
    ([[1, 2, 3]], "numpy"),
])
def test_bad_input_names_the_tool(name: str, bad: object, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        tool_named(name)(bad)
    assert name in str(err.value) and fragment in str(err.value)


@pytest.mark.parametrize("name", AVAILABLE)
def test_failure_inside_becomes_component_error(name: str, batch: np.ndarray) -> None:
    tool = TOOLS.build(name)

    def broken(_: np.ndarray) -> np.ndarray:
        raise RuntimeError("boom")

    tool.process = broken  # type: ignore[method-assign]
    with pytest.raises(ComponentError) as err:
        tool(batch)
    assert name in str(err.value) and "boom" in str(err.value)
