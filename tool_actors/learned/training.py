"""What the judge and expert trainers share: device and thread set-up, the learning-rate
schedule, step reports, the training-curve figure and the card's common fields."""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tool_actors.scorers.tensor import to_tensor  # noqa: F401 (re-exported: the networks read images as scorers do)

StepReport = Callable[[int, int, dict[str, float]], None]  # (step, total, latest values)
BatchLoss = Callable[[], tuple[torch.Tensor, dict[str, float]]]  # draw a batch → (loss, its parts)
HeldOutCheck = Callable[[int], dict[str, float]]  # step → held-out metrics
MakeBatch = Callable[[np.random.Generator], Any]  # a generator → one step's training data (NumPy)
WORKER_STREAM = 4  # the SeedSequence entry of the per-step generators used with data workers


class _StepBatches(torch.utils.data.Dataset):
    """Batch ``i`` drawn from its own generator, seeded ``(seed, WORKER_STREAM, i)``."""

    def __init__(self, make: MakeBatch, steps: int, seed: int) -> None:
        self.make, self.steps, self.seed = make, steps, seed

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, step: int) -> Any:
        return self.make(np.random.default_rng(np.random.SeedSequence([self.seed, WORKER_STREAM, step])))


def _one_thread(_: int) -> None:
    """Each data worker is one process on one core: n workers of OpenCV's and torch's default
    thread pools (one thread per core each) would oversubscribe the machine n times over (the
    BLAS pool is kept to one thread by ``_one_thread_children``)."""
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_thread_children() -> Iterator[None]:
    """Processes started inside see ``THREAD_VARIABLES`` = 1: a spawned worker's NumPy loads its BLAS
    thread pool (one spinning thread per core) while unpickling its dataset, before any init function."""
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _as_drawn(batch: Any) -> Any:
    return batch  # the batch as ``make`` returned it (no conversion to tensors)


def batch_stream(make: MakeBatch, steps: int, seed: int, rng: np.random.Generator, workers: int) -> Iterator[Any]:
    """One step's training data after another, ``steps`` in all.

    ``workers`` = 0: drawn in this process, in turn, from ``rng`` (one stream for the whole run: the
    way every shipped model was trained). ``workers`` = n > 0: drawn ahead by n processes (a torch
    ``DataLoader``, two batches queued per worker) while the device trains, so synthesis on the CPU no
    longer bounds a GPU run; batch i then comes from its own generator seeded ``(seed, 4, i)``, so
    the data are the same for any n > 0 and whatever the workers' timing. The workers are spawned,
    not forked (a forked copy of a library's thread pool, OIDN's for one, never wakes), so ``make``
    must pickle: a module-level function, a ``functools.partial`` of one, or an object that
    rebuilds what cannot be pickled in the worker."""
    if workers < 0:
        raise ValueError(f"--workers must be ≥ 0, got {workers}")
    if workers == 0:
        return (make(rng) for _ in range(steps))
    loader = torch.utils.data.DataLoader(_StepBatches(make, steps, seed), batch_size=None, shuffle=False,
                                         num_workers=workers, prefetch_factor=2, worker_init_fn=_one_thread,
                                         collate_fn=_as_drawn, multiprocessing_context="spawn")
    with _one_thread_children():  # the workers start here
        batches = iter(loader)
    return _explained(batches, workers)


WORKER_DIED = ("a data worker process died ({err}). A worker starts as a fresh Python process and unpickles the "
               "batch maker: it must be importable there (a module-level function, not one defined in a script "
               "that lacks an `if __name__ == \"__main__\":` guard), and each worker needs memory for its own "
               "copy of the data pipeline (on a small machine use fewer workers). --workers 0 draws the data in "
               "the training process instead.")


def _explained(batches: Iterator[Any], workers: int) -> Iterator[Any]:
    """``batches``, with torch's bare "DataLoader worker exited unexpectedly" explained."""
    try:
        yield from batches
    except RuntimeError as err:
        if "exited unexpectedly" not in str(err):
            raise
        raise RuntimeError(WORKER_DIED.format(err=f"{workers} worker(s); torch: {err}")) from err


def optimise(model: torch.nn.Module, opt: torch.optim.Optimizer, cfg: Any, batch_loss: BatchLoss,
             history: dict[str, list[float]], check: HeldOutCheck, report: StepReport | None) -> None:
    """The trainers' shared loop: ``cfg.steps`` steps at the cosine learning rate (``cfg.lr``,
    ``cfg.warmup``) with gradients clipped to norm 1; every key of ``history`` is appended from the
    step's loss parts; the held-out ``check`` runs every ``cfg.eval_every`` steps and after the last,
    and ``report`` gets each step's parts (with the check's metrics when it ran).

    With ``cfg.average_from`` = f < 1 (trainers without the field never average) the weights at each
    check from step f·``cfg.steps`` on, the last included, are averaged into the returned model
    (stochastic weight averaging over snapshots: no normalisation layers need re-estimating in
    these networks). The checks themselves see the weights of the moment."""
    average_from = float(getattr(cfg, "average_from", 1.0))
    if not 0.0 <= average_from <= 1.0:
        raise ValueError(f"average_from must lie in [0, 1], got {average_from}")
    snapshots = WeightAverage(model)
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, cfg.steps, cfg.lr, cfg.warmup)
        loss, parts = batch_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        for key, values in history.items():
            values.append(parts[key])
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            parts = {**parts, **check(step + 1)}
            if step + 1 >= average_from * cfg.steps:
                snapshots.add(model)
        if report is not None:
            report(step + 1, cfg.steps, parts)
    snapshots.load_into(model)


class WeightAverage:
    """The running mean of a model's floating-point weights over the snapshots added."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.count = 0
        self.mean = {k: torch.zeros_like(v) for k, v in model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def add(self, model: torch.nn.Module) -> None:
        self.count += 1
        for key, value in model.state_dict().items():
            if key in self.mean:
                self.mean[key] += (value - self.mean[key]) / self.count

    @torch.no_grad()
    def load_into(self, model: torch.nn.Module) -> None:
        """Replace ``model``'s weights by the mean (nothing to do for one snapshot: it is the model)."""
        if self.count > 1:
            model.load_state_dict(self.mean, strict=False)


def setup_device(device: str, threads: int) -> torch.device:
    """``cpu`` or ``cuda`` (an error, not a fallback, when CUDA is asked for and absent)."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"--device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but torch sees no CUDA device; use --device cpu")
    if threads < 1:
        raise ValueError(f"--threads must be ≥ 1, got {threads}")
    torch.set_num_threads(threads)
    return torch.device(device)


def seed_all(seed: int) -> None:
    """Seed torch's generators (the data streams take their own NumPy generators)."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def cosine_lr(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine decay to 2 % of ``base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t))))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [0, 1] → uint8 (N, H, W, 3), rounded and clipped."""
    return x.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def smooth(values: list[float], window: int) -> np.ndarray:
    """Running mean over ``window`` points (shorter at the start)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_curves(path: str | Path, title: str, train: dict[str, list[float]],
                evals: dict[str, list[tuple[int, float]]]) -> Path:
    """A PNG: smoothed training losses and held-out losses (left), other held-out metrics (right)."""
    from restore_ray.figures import plt, save_figure, tight_below_title

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for key, values in train.items():
        ax1.plot(np.arange(1, len(values) + 1), smooth(values, 50), label=key)
    for key, points in evals.items():  # held-out losses beside the training losses, other metrics on the right
        if points:
            ax = ax1 if key.endswith("loss") else ax2
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss (training: running mean of 50)")
    ax1.set_yscale("log")
    ax1.legend()
    ax2.set_xlabel("step")
    ax2.set_title("held-out synthetic data")
    ax2.legend()
    fig.suptitle(title)
    tight_below_title(fig)
    return save_figure(fig, path, dpi=100)


def card_settings(cfg: Any) -> dict[str, Any]:
    """The run's settings (a dataclass, tuples as lists), steps and seed, as every card records them."""
    return {"settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
            "steps": cfg.steps, "seed": cfg.seed}


def card_footer(history: dict[str, list[float]], evals: dict[str, list[tuple[int, float]]], curve: Path,
                command: str, t0: float, loss_window: int) -> dict[str, Any]:
    """The fields every card ends with: final training loss (mean of the last ``loss_window`` steps),
    held-out checks, the curve's file name, the command and the total time since ``t0``."""
    return {
        "final_train_loss": float(np.mean(history["loss"][-loss_window:])),
        "held_out_checks": {k: [[int(a), round(float(b), 5)] for a, b in v] for k, v in evals.items()},
        "curve": curve.name,
        "command": command,
        "total_seconds": round(time.perf_counter() - t0, 1),
    }


def card_header(kind: str, name: str, seconds: float, device: torch.device, threads: int) -> dict[str, Any]:
    """The fields every card starts with."""
    return {
        "name": name,
        "kind": kind,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "training_seconds": round(seconds, 1),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "human_labels": False,
    }
