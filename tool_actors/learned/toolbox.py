"""The project's registered restoration tools as a source of realistic outputs for judge training.

The judge scores tool outputs. The quick remedies of ``distortions`` imitate what tools do; the
registered embedded tools (``TOOLS.embedded()``: classical operators, FFDNet, OIDN, …) *are* what
the agent applies. ``load_toolbox`` builds them once, so ``data.judge_group`` can add their
outputs on degraded training patches to each group, ordered against the other versions by the
full-reference level like every other pair (never by a human label). The project's own learned
experts are left out, so the judge never depends on models trained after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from restore_ray.names import CATEGORY_TO_DEGRADATION

Image = np.ndarray  # uint8 (H, W, 3)


@dataclass(frozen=True)
class ToolboxTool:
    """A built tool: its registry name, the degradation its category targets, and the call."""

    name: str
    degradation: str
    run: Callable[[np.ndarray], np.ndarray]  # uint8 (N, H, W, 3) → same

    def __call__(self, image: Image) -> Image:
        return self.run(image[None])[0]


def learned_tool_names() -> set[str]:
    """Names of this package's own experts (excluded from the toolbox)."""
    from tool_actors.learned.train_expert import EXPERT_NAMES

    return set(EXPERT_NAMES.values())


def load_toolbox(names: Sequence[str] | None = None, device: str = "cpu") -> list[ToolboxTool]:
    """Build ``names`` (default: every available embedded tool but the learned experts).

    A name asked for explicitly that is unknown or cannot be built here is an error; with the
    default, unavailable tools are skipped (``toolbox_names`` records what was used)."""
    from tool_actors.registry import TOOLS

    own = learned_tool_names()
    if names is None:
        chosen = [e.name for e in TOOLS.entries() if e.embedded and e.name not in own and e.availability()[0]]
    else:
        chosen = list(names)
        bad = sorted(set(chosen) & own)
        if bad:
            raise ValueError(f"the judge's toolbox cannot hold the learned experts {', '.join(bad)}")
    tools = []
    for name in chosen:
        entry = TOOLS.get(name)
        if entry.category not in CATEGORY_TO_DEGRADATION:
            raise ValueError(f"tool {name!r} has category {entry.category!r}, which targets no degradation")
        tools.append(ToolboxTool(name, CATEGORY_TO_DEGRADATION[entry.category], TOOLS.build(name, device=device)))
    return tools
