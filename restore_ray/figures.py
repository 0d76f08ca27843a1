"""Pictures people look at: contact sheets of degradations and before/after grids.

matplotlib renders with the non-interactive Agg backend, so nothing here needs a display.
"""

from __future__ import annotations

import os
import textwrap
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from restore_ray.imageio import read_image  # noqa: E402
from restore_ray.manifest import Record  # noqa: E402


def _params_label(rec: Record) -> str:
    parts = []
    for p in rec.params:
        name = p.get("name", "?")
        shown = {k: v for k, v in p.items() if k not in ("name", "seed")}
        vals = ", ".join(f"{k}={v:.2g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())
        parts.append(f"{name}({vals})")
    return "\n".join(parts)


def contact_sheet(records: Sequence[Record], out: str | os.PathLike, per_group: int = 3,
                  thumb: float = 1.6) -> Path:
    """One row per combination (in manifest order): ``per_group`` lq/gt pairs with their parameters."""
    groups: OrderedDict[tuple[str | None, str], list[Record]] = OrderedDict()
    for r in records:
        groups.setdefault((r.setting, r.combination), []).append(r)
    if not groups:
        raise ValueError("the manifest has no records to show")
    rows = list(groups.items())
    ncols = 2 * per_group
    fig, axes = plt.subplots(len(rows), ncols, figsize=(thumb * ncols, thumb * 1.25 * len(rows)), squeeze=False)
    for row, ((setting, combo), recs) in enumerate(rows):
        for k in range(per_group):
            ax_lq, ax_gt = axes[row, 2 * k], axes[row, 2 * k + 1]
            for ax in (ax_lq, ax_gt):
                ax.set_xticks([])
                ax.set_yticks([])
            if k >= len(recs):
                ax_lq.axis("off")
                ax_gt.axis("off")
                continue
            rec = recs[k]
            ax_lq.imshow(read_image(rec.lq_path))
            ax_lq.set_xlabel(_params_label(rec), fontsize=5)
            if rec.gt_path is not None:
                ax_gt.imshow(read_image(rec.gt_path))
                ax_gt.set_xlabel("ground truth", fontsize=5)
            else:
                ax_gt.axis("off")
        label = f"{setting or 'single'}: {combo}"
        axes[row, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center", labelpad=8)
    fig.suptitle("degraded (left) / clean (right), by combination", fontsize=9)
    tight_below_title(fig)
    return save_figure(fig, out)


def image_grid(rows: Sequence[Sequence[np.ndarray]], titles: Sequence[Sequence[str]], out: str | os.PathLike,
               row_labels: Sequence[str] | None = None, thumb: float = 2.2, suptitle: str | None = None) -> Path:
    """A grid of images (e.g. degraded → each step → restored → clean) with a title per cell and, with
    ``row_labels``, a caption per row (a plan, say) wrapped under the row's second image."""
    nrows, ncols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(thumb * ncols, thumb * 1.15 * nrows), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(row):
                ax.axis("off")
                continue
            ax.imshow(row[j])
            ax.set_title(titles[i][j], fontsize=7)
        if row_labels is not None and row_labels[i]:
            # under the row's second image (the restored one in before/after grids), wrapped to its width
            ax = axes[i, min(1, len(row) - 1)]
            ax.set_xlabel(textwrap.fill(row_labels[i], width=max(20, int(thumb * 22))), fontsize=6)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    tight_below_title(fig)
    return save_figure(fig, out)


def tight_below_title(fig: Any, title_inches: float = 0.35) -> None:
    """``tight_layout`` that leaves the figure title (``suptitle``) its own band; plain ``tight_layout``
    lets it overlap the first row's titles."""
    top = 1.0 - title_inches / fig.get_figheight() if fig.get_suptitle() else 1.0
    fig.tight_layout(rect=(0.0, 0.0, 1.0, top))


def save_figure(fig: Any, out: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` to ``out`` (creating its folder), close it, and return the path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
