"""Padding to an architecture's size requirements, and tiled inference for big images.

``pad_to`` pads the bottom and right edges so height and width are multiples of ``multiple_of``
and at least ``minimum`` (reflection, then edge replication where reflection cannot reach, as
spandrel does); the caller crops the result back.

``run_tiled`` pads the image once, cuts it into tiles of at most ``tile`` pixels a side, runs
each with ``overlap`` pixels of context on every inner side, and keeps only each tile's core, so
the output equals whole-image inference as long as the overlap covers what the network looks at
around a pixel (exactly so for a convolutional network with a smaller receptive field).
Both work on ``(N, C, H, W)`` tensors; the function must keep the spatial size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Forward = Callable[[torch.Tensor], torch.Tensor]


def _ceil_to(x: int, multiple: int) -> int:
    return -(-x // multiple) * multiple


def padded_size(height: int, width: int, multiple_of: int = 1, minimum: int = 0) -> tuple[int, int]:
    """The smallest (H', W') ≥ (height, width), ≥ ``minimum``, that are multiples of ``multiple_of``."""
    return (_ceil_to(max(height, minimum), multiple_of), _ceil_to(max(width, minimum), multiple_of))


def pad_to(x: torch.Tensor, multiple_of: int = 1, minimum: int = 0) -> torch.Tensor:
    """Pad ``x`` (N, C, H, W) at the bottom/right to the size ``padded_size`` gives."""
    h, w = x.shape[-2:]
    ph, pw = padded_size(h, w, multiple_of, minimum)
    pad_h, pad_w = ph - h, pw - w
    if pad_h == 0 and pad_w == 0:
        return x
    rh, rw = min(pad_h, h - 1), min(pad_w, w - 1)  # reflection reaches at most size - 1
    if rh or rw:
        x = F.pad(x, (0, rw, 0, rh), mode="reflect")
    if pad_h - rh or pad_w - rw:
        x = F.pad(x, (0, pad_w - rw, 0, pad_h - rh), mode="replicate")
    return x


def run_padded(fn: Forward, x: torch.Tensor, multiple_of: int = 1, minimum: int = 0) -> torch.Tensor:
    """``fn`` on ``x`` padded to the size requirements, cropped back to ``x``'s size."""
    h, w = x.shape[-2:]
    return fn(pad_to(x, multiple_of, minimum))[..., :h, :w]


def _starts(size: int, step: int) -> list[int]:
    return list(range(0, size, step))


def tile_layout(tile: int, overlap: int, multiple_of: int = 1) -> tuple[int, int]:
    """(core, overlap) of a tile grid: overlap rounded up and core rounded down to ``multiple_of``."""
    if overlap < 0:
        raise ValueError(f"tile overlap must be ≥ 0, got {overlap}")
    overlap = _ceil_to(overlap, multiple_of)
    core = (tile - 2 * overlap) // multiple_of * multiple_of
    if core < 1:
        raise ValueError(f"tile size {tile} leaves no core with overlap {overlap} (rounded to a multiple of "
                         f"{multiple_of}): use a tile larger than {2 * overlap + multiple_of - 1}")
    return core, overlap


def run_tiled(fn: Forward, x: torch.Tensor, tile: int, overlap: int, multiple_of: int = 1,
              minimum: int = 0) -> torch.Tensor:
    """``fn`` over ``x`` (N, C, H, W) in tiles of at most ``tile``² pixels with ``overlap`` context.

    The image is first padded once, as for whole-image inference, and the tile grid is laid on
    the padded image with the overlap and the core rounded to ``multiple_of``, so every tile
    meets the size requirements as it is and image borders see the same padding as without tiles.
    """
    core, overlap = tile_layout(tile, overlap, multiple_of)
    h, w = x.shape[-2:]
    if h <= tile and w <= tile:
        return run_padded(fn, x, multiple_of, minimum)
    xp = pad_to(x, multiple_of, minimum)
    hp, wp = xp.shape[-2:]
    out: torch.Tensor | None = None
    for y0 in _starts(hp, core):
        y1 = min(y0 + core, hp)
        iy0, iy1 = max(y0 - overlap, 0), min(y1 + overlap, hp)
        for x0 in _starts(wp, core):
            x1 = min(x0 + core, wp)
            ix0, ix1 = max(x0 - overlap, 0), min(x1 + overlap, wp)
            piece = run_padded(fn, xp[..., iy0:iy1, ix0:ix1], multiple_of, minimum)
            if out is None:
                out = piece.new_empty((*piece.shape[:-2], hp, wp))
            out[..., y0:y1, x0:x1] = piece[..., y0 - iy0:y1 - iy0, x0 - ix0:x1 - ix0]
    assert out is not None
    return out[..., :h, :w]
