"""The three architectures: ``JudgeNet`` (image → one quality number), ``ExpertNet`` (image →
restored image) and ``DetectorNet`` (image → one logit per degradation), with their
hyperparameters as small dataclasses stored beside the weights.

All are plain convolutional networks without normalisation layers: a judge must see absolute
brightness, contrast and colour, which per-sample normalisation would remove, and an expert
must be a deterministic function of its input alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn


class ResBlock(nn.Module):
    """conv3×3 → LeakyReLU → conv3×3, added to the input; the second conv starts small."""

    def __init__(self, channels: int, init_scale: float = 0.1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.1, inplace=True)
        with torch.no_grad():
            self.conv2.weight.mul_(init_scale)
            self.conv2.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.1, inplace=True))


def _trunk(stem: int, widths: tuple[int, ...]) -> tuple[nn.Sequential, nn.ModuleList]:
    """The judge's and detector's convolutional trunk: a full-resolution stem of ``stem`` channels,
    then one stride-2 stage (downsampling conv + residual block) per width."""
    stem_layer = nn.Sequential(nn.Conv2d(3, stem, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))
    stages, c_prev = [], stem
    for width in widths:
        stages.append(nn.Sequential(_down(c_prev, width), ResBlock(width)))
        c_prev = width
    return stem_layer, nn.ModuleList(stages)


def _pooled_trunk(stem: nn.Module, stages: nn.ModuleList, x: torch.Tensor, pooled_stages: int) -> list[torch.Tensor]:
    """Run the trunk on ``x`` in [0, 1]; the mean and standard deviation over space of each of the
    last ``pooled_stages`` stages' feature maps (independent of image size), (N, C) each."""
    h = stem(x * 2.0 - 1.0)
    pooled = []
    for i, stage in enumerate(stages):
        h = stage(h)
        if i >= len(stages) - pooled_stages:
            flat = h.flatten(2)  # (N, C, h*w)
            pooled.append(flat.mean(dim=2))
            pooled.append(flat.var(dim=2, unbiased=False).add(1e-6).sqrt())
    return pooled


# ------------------------------------------------------------------------------------- judge
@dataclass(frozen=True)
class JudgeConfig:
    """Hyperparameters of ``JudgeNet`` (stored in the weights file's metadata)."""

    stem: int = 16  # channels of the full-resolution first convolution
    widths: tuple[int, ...] = (32, 48, 96, 128)  # channels at 1/2, 1/4, 1/8, 1/16 resolution
    pooled_stages: int = 3  # mean+std pooling of the last this-many stages feeds the head
    hidden: int = 128  # width of the head's hidden layer
    tone_stats: bool = False  # also feed the head global tone statistics of the input (``tone_statistics``)
    tone_branch: bool = False  # add a separate score term computed from the tone statistics alone
    detail_stats: bool = False  # also feed the head the input's sharpness statistics (``detail_statistics``)
    block_stats: bool = False  # also feed the head the input's 8×8 blockiness (``block_statistics``)

    @property
    def min_side(self) -> int:
        """Smallest image side the network accepts without padding (one pixel at the coarsest stage)."""
        return 2 ** len(self.widths)


DETAIL_LEVELS = 4
ANISOTROPY_LEVELS = (0, 2)  # pyramid levels whose gradient anisotropy is measured
DETAIL_FEATURES = DETAIL_LEVELS - 1 + len(ANISOTROPY_LEVELS)


def _anisotropy(y: torch.Tensor) -> torch.Tensor:
    """log(λmax / λmin) of the mean gradient structure tensor of (N, 1, H, W) maps → (N,)."""
    gx = y[:, :, 1:-1, 2:] - y[:, :, 1:-1, :-2]  # central differences: uncorrelated for white noise
    gy = y[:, :, 2:, 1:-1] - y[:, :, :-2, 1:-1]
    a, b, c = gx.pow(2).mean(dim=(1, 2, 3)), gy.pow(2).mean(dim=(1, 2, 3)), (gx * gy).mean(dim=(1, 2, 3))
    root = ((a - b).pow(2) + 4 * c.pow(2)).sqrt()
    return ((a + b + root + 1e-7) / (a + b - root + 1e-7)).log()


def detail_statistics(x: torch.Tensor) -> torch.Tensor:
    """Sharpness of (N, 3, H, W) images in [0, 1] → (N, DETAIL_FEATURES), roughly centred and scaled:
    the log ratios of the mean energy of each level of the luma's Laplacian pyramid (full resolution,
    1/2, 1/4, 1/8) to the next coarser one, then the anisotropy of the gradients at full and
    quarter resolution.

    A blur lowers the fine levels against the coarse ones; contrast and brightness leave the ratios
    alone, and unsharp masking of a blurred picture only partly restores them (it amplifies what is
    left, it does not restore what the blur took). A motion blur removes detail along one direction:
    the fine gradients turn anisotropic where the coarse ones were not, and an isotropic sharpening
    does not undo that. Convolution features scale with contrast, so the head could only read
    these through divisions."""
    y = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    energies, anisotropy = [], []
    for level in range(DETAIL_LEVELS):
        if level in ANISOTROPY_LEVELS:
            anisotropy.append(_anisotropy(y) if min(y.shape[2:]) >= 3 else torch.zeros(len(y), device=y.device))
        coarse = nn.functional.avg_pool2d(y, 2, ceil_mode=True)
        band = y - nn.functional.interpolate(coarse, size=y.shape[2:], mode="bilinear", align_corners=False)
        energies.append(band.pow(2).mean(dim=(1, 2, 3)).add(1e-7).log())
        y = coarse
    e = torch.stack(energies, dim=1)
    return torch.cat([(e[:, :-1] - e[:, 1:] + 1.0) / 1.5, torch.stack(anisotropy, dim=1) - 0.5], dim=1)


BLOCK_FEATURES = 2


def block_statistics(x: torch.Tensor) -> torch.Tensor:
    """8×8 blockiness of (N, 3, H, W) images in [0, 1] → (N, 2): per axis, the log ratio of the mean
    absolute luma step across the boundaries of an 8-pixel grid anchored at the top-left corner (JPEG's)
    to the mean step elsewhere; about 0 for a photograph, positive when blocks show."""
    y = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]  # (N, H, W)
    out = []
    for plane in (y, y.transpose(1, 2)):  # steps along columns, then along rows
        steps = (plane[:, :, 1:] - plane[:, :, :-1]).abs()
        n = steps.shape[2]
        on_grid = torch.zeros(n, dtype=torch.bool, device=x.device)
        on_grid[7::8] = True  # the step from column 8k − 1 to 8k
        if not on_grid.any():  # fewer than 9 columns: no grid line inside
            out.append(torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))
            continue
        across = steps[:, :, on_grid].mean(dim=(1, 2))
        inside = steps[:, :, ~on_grid].mean(dim=(1, 2))
        out.append(((across + 1e-4) / (inside + 1e-4)).log())
    return torch.stack(out, dim=1) * 2.0


TONE_QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TONE_FEATURES = len(TONE_QUANTILES) + 4


def tone_statistics(x: torch.Tensor) -> torch.Tensor:
    """Global tone of (N, 3, H, W) images in [0, 1] → (N, 11): quantiles of luma, the shares of
    near-black and near-white pixels, mean and spread of the chroma magnitude.

    Darkness, over-brightening, clipping, haze's lifted blacks and casts are properties of the
    whole picture's tone distribution, which means and deviations of convolution features show
    poorly (a maximum or a 1 % quantile is not a mean)."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    luma = (0.299 * r + 0.587 * g + 0.114 * b).flatten(1)  # (N, HW)
    q = torch.quantile(luma, torch.tensor(TONE_QUANTILES, dtype=x.dtype, device=x.device), dim=1).T  # (N, 7)
    chroma = (x - luma.view(x.shape[0], 1, *x.shape[2:])).pow(2).sum(dim=1).sqrt().flatten(1)  # (N, HW)
    extra = torch.stack([(luma < 2.0 / 255).float().mean(1), (luma > 253.0 / 255).float().mean(1),
                         chroma.mean(1), chroma.std(1, unbiased=False)], dim=1)
    return torch.cat([q, extra], dim=1)


class JudgeNet(nn.Module):
    """A fully convolutional quality regressor for images of any size.

    A full-resolution stem (sees pixel noise and blocking), four stride-2 stages with one residual
    block each, then the mean and standard deviation over space of the last ``pooled_stages``
    feature maps (fine and coarse statistics, independent of image size) — with ``tone_stats``,
    ``detail_stats`` and ``block_stats`` also the input's global tone, sharpness and blockiness
    statistics — go through a two-layer head to one raw score per image. With ``tone_branch`` a second small head scores the tone statistics alone and its
    output is added: a term for exposure and clipping that the content features cannot modulate,
    so what the judge learnt about darkness on the training pictures holds on any picture.
    """

    def __init__(self, config: JudgeConfig = JudgeConfig()) -> None:
        super().__init__()
        self.config = config
        self.stem, self.stages = _trunk(config.stem, config.widths)
        pooled = (2 * sum(config.widths[-config.pooled_stages:]) + (TONE_FEATURES if config.tone_stats else 0)
                  + (DETAIL_FEATURES if config.detail_stats else 0) + (BLOCK_FEATURES if config.block_stats else 0))
        self.head = nn.Sequential(nn.Linear(pooled, config.hidden), nn.LeakyReLU(0.1, inplace=True),
                                  nn.Linear(config.hidden, 1))
        self.tone_head = (nn.Sequential(nn.Linear(TONE_FEATURES, 32), nn.LeakyReLU(0.1, inplace=True), nn.Linear(32, 1))
                          if config.tone_branch else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, 3, H, W) float32 in [0, 1], H and W ≥ ``config.min_side`` → (N,) raw scores."""
        pooled = _pooled_trunk(self.stem, self.stages, x, self.config.pooled_stages)
        tone = tone_statistics(x) * 4.0 - 2.0 if self.config.tone_stats or self.tone_head is not None else None
        if self.config.tone_stats:
            pooled.append(tone)  # roughly centred, unit-scale inputs
        if self.config.detail_stats:
            pooled.append(detail_statistics(x))
        if self.config.block_stats:
            pooled.append(block_statistics(x))
        score = self.head(torch.cat(pooled, dim=1))
        if self.tone_head is not None:
            score = score + self.tone_head(tone)
        return score.squeeze(1)


# ------------------------------------------------------------------------------------ expert
@dataclass(frozen=True)
class ExpertConfig:
    """Hyperparameters of ``ExpertNet`` (stored in the weights file's metadata)."""

    widths: tuple[int, ...] = (32, 64, 96)  # channels per U-Net level (level 0 at 1/2 resolution)
    blocks: tuple[int, ...] = (2, 2, 2)  # residual blocks per level on the way down (and up, except the last)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (the expert pads at the bottom and right to reach it)."""
        return 2 ** len(self.widths)


class ExpertNet(nn.Module):
    """A small residual U-Net that predicts the correction to add to its input.

    The image is pixel-unshuffled by 2 (3 → 12 channels at half resolution), so every level works
    on a quarter of the pixels; ``len(widths)`` levels with stride-2 convolutions down and
    pixel-shuffle up, skip connections by addition, and a final pixel-shuffle back to full
    resolution. The output is ``input + correction``, not clipped (the tool clips).
    """

    def __init__(self, config: ExpertConfig = ExpertConfig()) -> None:
        super().__init__()
        if len(config.widths) != len(config.blocks) or not config.widths:
            raise ValueError(f"ExpertConfig: widths {config.widths} and blocks {config.blocks} must be non-empty "
                             "and of equal length")
        self.config = config
        w = config.widths
        self.unshuffle = nn.PixelUnshuffle(2)
        self.shuffle = nn.PixelShuffle(2)
        self.head = nn.Conv2d(12, w[0], 3, padding=1)
        self.enc = nn.ModuleList(nn.Sequential(*[ResBlock(w[i]) for _ in range(config.blocks[i])])
                                 for i in range(len(w)))
        self.down = nn.ModuleList(_down(w[i], w[i + 1]) for i in range(len(w) - 1))
        self.up = nn.ModuleList(nn.Sequential(nn.Conv2d(w[i + 1], w[i] * 4, 1), nn.PixelShuffle(2))
                                for i in range(len(w) - 1))
        self.dec = nn.ModuleList(nn.Sequential(*[ResBlock(w[i]) for _ in range(config.blocks[i])])
                                 for i in range(len(w) - 1))
        self.tail = nn.Conv2d(w[0], 12, 3, padding=1)
        with torch.no_grad():
            self.tail.weight.mul_(0.1)
            self.tail.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (N, 3, H, W) float32 in [0, 1], H and W multiples of ``config.multiple`` → same shape."""
        h = self.head(self.unshuffle(x * 2.0 - 1.0))  # (N, w0, H/2, W/2)
        skips = []
        for i, enc in enumerate(self.enc):
            h = enc(h)
            if i < len(self.down):
                skips.append(h)
                h = self.down[i](h)
        for i in reversed(range(len(self.dec))):
            h = self.dec[i](self.up[i](h) + skips[i])
        return x + self.shuffle(self.tail(h)) * 0.5  # (N, 3, H, W)


# ---------------------------------------------------------------------------------- detector
@dataclass(frozen=True)
class DetectorConfig:
    """Hyperparameters of ``DetectorNet`` (stored in the weights file's metadata)."""

    outputs: int = 7  # one logit per degradation, in ``restore_ray.names.DEGRADATIONS`` order
    stem: int = 16  # channels of the full-resolution first convolution
    widths: tuple[int, ...] = (24, 32, 64, 96)  # channels at 1/2, 1/4, 1/8, 1/16 resolution
    pooled_stages: int = 3  # mean+std pooling of the last this-many stages feeds the head
    hidden: int = 96  # width of the head's hidden layer
    side_inputs: int = 0  # length of a per-image vector fed to the head beside the pooled features (0: none)

    @property
    def min_side(self) -> int:
        """Smallest image side the network accepts without padding (one pixel at the coarsest stage)."""
        return 2 ** len(self.widths)


class DetectorNet(nn.Module):
    """Which degradations does an image carry? A multi-label classifier for images of any size.

    The judge's layout at a smaller width: a full-resolution stem (noise, JPEG blocks), stride-2
    stages with one residual block each, the mean and standard deviation over space of the last
    ``pooled_stages`` feature maps and the input's global tone statistics (darkness and haze are
    properties of the whole tone distribution) into a two-layer head with one logit per
    degradation. With ``side_inputs`` the head also reads a vector computed outside the network
    for each image (the ``stats`` encoder's degradation statistics). No normalisation layers:
    absolute brightness and contrast are evidence.
    """

    def __init__(self, config: DetectorConfig = DetectorConfig()) -> None:
        super().__init__()
        self.config = config
        self.stem, self.stages = _trunk(config.stem, config.widths)
        pooled = 2 * sum(config.widths[-config.pooled_stages:]) + TONE_FEATURES + config.side_inputs
        self.head = nn.Sequential(nn.Linear(pooled, config.hidden), nn.LeakyReLU(0.1, inplace=True),
                                  nn.Linear(config.hidden, config.outputs))

    def forward(self, x: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: (N, 3, H, W) float32 in [0, 1], H and W ≥ ``config.min_side``; ``side``: (N, side_inputs)
        when the config has side inputs → (N, outputs) logits."""
        expected = (x.shape[0], self.config.side_inputs)
        if self.config.side_inputs and (side is None or tuple(side.shape) != expected):
            raise ValueError(f"DetectorNet needs side inputs of shape {expected}, got "
                             f"{None if side is None else tuple(side.shape)}")
        pooled = _pooled_trunk(self.stem, self.stages, x, self.config.pooled_stages)
        pooled.append(tone_statistics(x) * 4.0 - 2.0)
        if self.config.side_inputs:
            pooled.append(side)
        return self.head(torch.cat(pooled, dim=1))


# ------------------------------------------------------------------------------- (de)serialise
ARCHITECTURES: dict[str, tuple[type, type]] = {"JudgeNet": (JudgeNet, JudgeConfig), "ExpertNet": (ExpertNet, ExpertConfig),
                                               "DetectorNet": (DetectorNet, DetectorConfig)}


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-able dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def config_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config dataclass from ``config_to_dict`` output; unknown keys are an error."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown hyperparameter(s) {', '.join(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters())
