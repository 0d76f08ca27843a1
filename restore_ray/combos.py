"""The 15 degradation combinations of the paper's Table 4, grouped in settings I–IV.

Each combination is applied in the order written. Setting I is the only one seen in training;
II–IV hold combinations the agent never saw (II: two degradations, III: three, IV: four or five).
"""

from __future__ import annotations

from dataclasses import dataclass

from restore_ray.names import check_degradation

SETTINGS: tuple[str, ...] = ("I", "II", "III", "IV")


@dataclass(frozen=True)
class Combination:
    """An ordered list of degradations and the setting it belongs to."""

    setting: str
    degradations: tuple[str, ...]

    @property
    def name(self) -> str:
        """Human-readable name, e.g. ``rain+haze``."""
        return "+".join(self.degradations)

    @property
    def slug(self) -> str:
        """File-system-safe name, e.g. ``rain-haze``."""
        return "-".join(self.degradations)


def _c(setting: str, *names: str) -> Combination:
    return Combination(setting, tuple(check_degradation(n) for n in names))


COMBINATIONS: tuple[Combination, ...] = (
    _c("I", "dark", "noise"),
    _c("I", "defocus_blur", "jpeg"),
    _c("I", "motion_blur", "dark"),
    _c("I", "noise", "jpeg"),
    _c("I", "rain", "haze"),
    _c("II", "haze", "noise"),
    _c("II", "motion_blur", "jpeg"),
    _c("II", "rain", "dark"),
    _c("III", "dark", "defocus_blur", "jpeg"),
    _c("III", "motion_blur", "defocus_blur", "noise"),
    _c("III", "rain", "dark", "noise"),
    _c("III", "rain", "haze", "noise"),
    _c("IV", "haze", "dark", "motion_blur", "jpeg"),
    _c("IV", "rain", "haze", "defocus_blur", "jpeg"),
    _c("IV", "rain", "motion_blur", "defocus_blur", "noise", "jpeg"),
)


def combinations(setting: str | None = None) -> tuple[Combination, ...]:
    """All combinations, or those of one setting."""
    if setting is None:
        return COMBINATIONS
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; expected one of {', '.join(SETTINGS)}")
    return tuple(c for c in COMBINATIONS if c.setting == setting)
