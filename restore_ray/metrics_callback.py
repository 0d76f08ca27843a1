"""RLlib callback: restoration metrics per episode, reduced into each training result.

Keys under ``result["env_runners"]``: ``initial_quality``, ``final_quality``, ``quality_gain`` (reward
quality before and after the episode), ``stop_rate`` (episodes ended by STOP), and
``skipped_episodes_lifetime`` (episodes skipped because a tool, the scorer or the encoder failed).
"""

from __future__ import annotations

from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback


class RestoreMetricsCallback(RLlibCallback):
    """Logs what the final step's info says about the episode."""

    def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        if metrics_logger is None:
            return
        first, info = episode.get_infos(0), episode.get_infos(-1)
        skipped = int(first.get("skipped_before", 0)) if isinstance(first, dict) else 0
        skipped += int(isinstance(info, dict) and bool(info.get("skipped")))
        metrics_logger.log_value("skipped_episodes_lifetime", skipped, reduce="lifetime_sum")
        if not isinstance(info, dict) or info.get("skipped"):
            return
        if "final_quality" in info:
            q0, q1 = float(info["initial_quality"]), float(info["final_quality"])
            metrics_logger.log_value("initial_quality", q0, reduce="mean", window=200)
            metrics_logger.log_value("final_quality", q1, reduce="mean", window=200)
            metrics_logger.log_value("quality_gain", q1 - q0, reduce="mean", window=200)
            metrics_logger.log_value("stop_rate", float(info.get("tool") == "STOP"), reduce="mean", window=200)
