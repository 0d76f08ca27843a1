"""The one spelling of every degradation and tool category.

Degradation names are the public vocabulary of datasets, manifests, the CLI and the HTTP API;
tool categories name what a restoration tool is meant to fix. Each degradation has exactly one
category that targets it (``DEGRADATION_TO_CATEGORY``); the policy is free to learn that tools
help beyond their nominal degradation.
"""

from __future__ import annotations

from typing import Literal, get_args

Degradation = Literal["dark", "noise", "jpeg", "haze", "rain", "motion_blur", "defocus_blur"]
Category = Literal[
    "brighten", "denoise", "dejpeg", "dehaze", "derain", "deblur_motion", "deblur_defocus"
]

DEGRADATIONS: tuple[str, ...] = get_args(Degradation)
CATEGORIES: tuple[str, ...] = get_args(Category)

DEGRADATION_TO_CATEGORY: dict[str, str] = {
    "dark": "brighten",
    "noise": "denoise",
    "jpeg": "dejpeg",
    "haze": "dehaze",
    "rain": "derain",
    "motion_blur": "deblur_motion",
    "defocus_blur": "deblur_defocus",
}
CATEGORY_TO_DEGRADATION: dict[str, str] = {c: d for d, c in DEGRADATION_TO_CATEGORY.items()}


def check_degradation(name: str) -> str:
    """Return ``name`` if it is a canonical degradation name, else raise a helpful ``ValueError``."""
    if name not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {name!r}; expected one of {', '.join(DEGRADATIONS)}")
    return name


def check_category(name: str) -> str:
    """Return ``name`` if it is a canonical tool category, else raise a helpful ``ValueError``."""
    if name not in CATEGORIES:
        raise ValueError(f"unknown tool category {name!r}; expected one of {', '.join(CATEGORIES)}")
    return name
