"""Loading a restoration network from a weights file with spandrel.

spandrel's ``ModelLoader`` reads ``.pth`` / ``.pt`` / ``.ckpt`` / ``.safetensors`` files with a
restricted unpickler, unwraps the usual containers (``params``, ``params_ema``, ``state_dict``,
a ``module.`` prefix), detects the architecture from the state dict's keys and infers its
hyperparameters from the tensors' shapes. The registry used here is spandrel's own plus
``spandrel_extra_arches`` (Restormer, MPRNet, …), built as a private copy so spandrel's global
registry is left as it is.

A tool names the architecture it expects; a file that holds another one, or something spandrel
cannot read, is an ``UnavailableError`` that names the file and what was found.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from spandrel import ArchRegistry, ImageModelDescriptor, ModelLoader, UnsupportedModelError

from tool_actors.base import UnavailableError


@lru_cache(maxsize=1)
def architecture_registry() -> ArchRegistry:
    """spandrel's architectures followed by spandrel_extra_arches' (a private copy)."""
    from spandrel import MAIN_REGISTRY
    from spandrel_extra_arches import EXTRA_REGISTRY

    registry = MAIN_REGISTRY.copy()
    registry.add(*EXTRA_REGISTRY, ignore_duplicates=True)
    return registry


def supported_architectures() -> list[str]:
    """Ids of every architecture the loader can detect, in detection order."""
    return [support.architecture.id for support in architecture_registry().architectures("detection")]


def load_restoration_model(path: str | Path, architecture: str) -> ImageModelDescriptor:
    """Load ``path`` on the CPU and check it is a 1× RGB→RGB ``architecture`` network (eval mode, no grad)."""
    path = Path(path)
    if architecture not in architecture_registry():
        raise ValueError(f"spandrel has no architecture {architecture!r}; known: {', '.join(supported_architectures())}")
    loader = ModelLoader(device=torch.device("cpu"), registry=architecture_registry())
    try:
        descriptor = loader.load_from_file(path)
    except UnsupportedModelError:
        raise UnavailableError(f"weights file {path} is not a network spandrel recognises; "
                               f"expected {architecture} weights") from None
    except Exception as err:  # unreadable, truncated or mismatched files
        raise UnavailableError(f"cannot load weights file {path} as {architecture}: {type(err).__name__}: {err}") from err
    found = descriptor.architecture.id
    if found != architecture:
        raise UnavailableError(f"weights file {path} holds a {descriptor.architecture.name} network, expected {architecture}")
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.purpose != "Restoration" or descriptor.scale != 1:
        raise UnavailableError(f"weights file {path} holds a {found} network for {descriptor.purpose} "
                               f"(scale {descriptor.scale}), expected a 1× restoration network")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise UnavailableError(f"weights file {path} holds a {descriptor.input_channels}→{descriptor.output_channels}-channel "
                               f"{found} network, expected RGB (3→3); use the colour model")
    descriptor.model.eval().requires_grad_(False)
    return descriptor
