"""The paper's neural tools, one row of data each; importing this module registers them.

Restore-R1's toolbox has 28 tools (AgenticIR's, less super-resolution): 3 brightening operators,
which are classical (``tool_actors.classical``), and the 25 networks below. A row says which
network, trained for what, which file it loads from the weights directory (named as upstream
releases it, under a folder per project) and where a user gets that file.

spandrel 0.4.2 + spandrel_extra_arches 0.2.0 load four of the architectures: SwinIR, FBCNN,
Restormer and MPRNet (13 tools). The rest are registered with ``unavailable`` set to the reason:
they are listed, never faked. docs/weights.md holds the same table for users.

FBCNN is one network with a quality-factor input: ``fbcnn-blind`` lets it predict the JPEG
quality, ``fbcnn-q5`` / ``fbcnn-q90`` pass ``1 − q/100`` as FBCNN's own inference scripts do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from restore_ray.names import check_category
from tool_actors.base import Tool
from tool_actors.registry import TOOLS, Entry
from tool_actors.weights import weights_file

SWINIR_RELEASE = "https://github.com/JingyunLiang/SwinIR/releases/tag/v0.0"
FBCNN_RELEASE = "https://github.com/jiaxi-jiang/FBCNN/releases/tag/v1.0"
RESTORMER = "https://github.com/swz30/Restormer"
MPRNET = "https://github.com/swz30/MPRNet"
MAXIM = "https://github.com/google-research/maxim"
X_RESTORMER = "https://github.com/Andrew0613/X-Restormer"

NOT_IN_SPANDREL = ("no installed package can load it: the architecture is not in spandrel 0.4.2 or "
                   "spandrel_extra_arches 0.2.0, and its research code is not on PyPI")
MAXIM_REASON = ("MAXIM's released checkpoints are JAX/Flax parameter files (.npz) and no installed package "
                "has a MAXIM implementation that loads them (not in spandrel 0.4.2 / spandrel_extra_arches 0.2.0)")


@dataclass(frozen=True)
class PaperTool:
    """One of the paper's neural tools."""

    name: str
    category: str
    architecture: str  # the network, as its paper names it
    trained_for: str  # which released model
    source: str  # where a user gets the weights file
    weights: str | None = None  # file inside the weights directory (None: not loadable)
    loader: str | None = None  # spandrel architecture id (None: not loadable)
    unavailable: str | None = None  # why no installed package can run it
    upstream_file: str = ""  # the file's name in the upstream release, for unavailable tools
    quality_factor: int | None = None  # FBCNN: fixed JPEG quality passed to the network


PAPER_TOOLS: tuple[PaperTool, ...] = (
    # ---------------------------------------------------------------------------- denoise
    PaperTool("swinir-denoise-s15", "denoise", "SwinIR-M", "colour Gaussian denoising, σ = 15", SWINIR_RELEASE,
              "SwinIR/005_colorDN_DFWB_s128w8_SwinIR-M_noise15.pth", "SwinIR"),
    PaperTool("swinir-denoise-s50", "denoise", "SwinIR-M", "colour Gaussian denoising, σ = 50", SWINIR_RELEASE,
              "SwinIR/005_colorDN_DFWB_s128w8_SwinIR-M_noise50.pth", "SwinIR"),
    PaperTool("restormer-denoise", "denoise", "Restormer", "real denoising (SIDD)", RESTORMER + " (Denoising/pretrained_models)",
              "Restormer/real_denoising.pth", "Restormer"),
    PaperTool("mprnet-denoise", "denoise", "MPRNet", "real denoising (SIDD)", MPRNET + " (Denoising/pretrained_models)",
              "MPRNet/model_denoising.pth", "MPRNet"),
    PaperTool("maxim-denoise", "denoise", "MAXIM-3S", "real denoising (SIDD)", MAXIM,
              unavailable=MAXIM_REASON, upstream_file="ckpt/Denoising/SIDD/checkpoint.npz"),
    PaperTool("x-restormer-denoise", "denoise", "X-Restormer", "denoising", X_RESTORMER,
              unavailable=NOT_IN_SPANDREL, upstream_file="denoise_300k.pth"),
    # ------------------------------------------------------------------------------ dejpeg
    PaperTool("swinir-jpeg-q40", "dejpeg", "SwinIR-M", "colour JPEG artifact removal, quality 40", SWINIR_RELEASE,
              "SwinIR/006_colorCAR_DFWB_s126w7_SwinIR-M_jpeg40.pth", "SwinIR"),
    PaperTool("fbcnn-blind", "dejpeg", "FBCNN", "colour JPEG artifact removal, predicted quality", FBCNN_RELEASE,
              "FBCNN/fbcnn_color.pth", "FBCNN"),
    PaperTool("fbcnn-q5", "dejpeg", "FBCNN", "colour JPEG artifact removal, quality factor set to 5", FBCNN_RELEASE,
              "FBCNN/fbcnn_color.pth", "FBCNN", quality_factor=5),
    PaperTool("fbcnn-q90", "dejpeg", "FBCNN", "colour JPEG artifact removal, quality factor set to 90", FBCNN_RELEASE,
              "FBCNN/fbcnn_color.pth", "FBCNN", quality_factor=90),
    # ------------------------------------------------------------------------------ derain
    PaperTool("restormer-derain", "derain", "Restormer", "deraining (Rain13K)", RESTORMER + " (Deraining/pretrained_models)",
              "Restormer/deraining.pth", "Restormer"),
    PaperTool("mprnet-derain", "derain", "MPRNet", "deraining (Rain13K)", MPRNET + " (Deraining/pretrained_models)",
              "MPRNet/model_deraining.pth", "MPRNet"),
    PaperTool("maxim-derain", "derain", "MAXIM-2S", "deraining (Rain13K)", MAXIM,
              unavailable=MAXIM_REASON, upstream_file="ckpt/Deraining/Rain13k/checkpoint.npz"),
    PaperTool("x-restormer-derain", "derain", "X-Restormer", "deraining", X_RESTORMER,
              unavailable=NOT_IN_SPANDREL, upstream_file="derain_155k.pth"),
    # ----------------------------------------------------------------------- deblur_motion
    PaperTool("restormer-deblur-motion", "deblur_motion", "Restormer", "motion deblurring (GoPro)",
              RESTORMER + " (Motion_Deblurring/pretrained_models)", "Restormer/motion_deblurring.pth", "Restormer"),
    PaperTool("mprnet-deblur-motion", "deblur_motion", "MPRNet", "motion deblurring (GoPro)",
              MPRNET + " (Deblurring/pretrained_models)", "MPRNet/model_deblurring.pth", "MPRNet"),
    PaperTool("maxim-deblur-motion", "deblur_motion", "MAXIM-3S", "motion deblurring (RealBlur-J)", MAXIM,
              unavailable=MAXIM_REASON, upstream_file="ckpt/Deblurring/RealBlur_J/checkpoint.npz"),
    PaperTool("x-restormer-deblur-motion", "deblur_motion", "X-Restormer", "motion deblurring", X_RESTORMER,
              unavailable=NOT_IN_SPANDREL, upstream_file="deblur_300k.pth"),
    # ---------------------------------------------------------------------- deblur_defocus
    PaperTool("restormer-deblur-defocus", "deblur_defocus", "Restormer", "single-image defocus deblurring (DPDD)",
              RESTORMER + " (Defocus_Deblurring/pretrained_models)", "Restormer/single_image_defocus_deblurring.pth",
              "Restormer"),
    PaperTool("drbnet", "deblur_defocus", "DRBNet", "single-image defocus deblurring", "https://github.com/lingyanruan/DRBNet",
              unavailable=NOT_IN_SPANDREL, upstream_file="ckpts/single/single_image_defocus_deblurring.pth"),
    PaperTool("ifan", "deblur_defocus", "IFAN", "single-image defocus deblurring (IFAN_44)", "https://github.com/codeslake/IFAN",
              unavailable=NOT_IN_SPANDREL, upstream_file="IFAN_44.pytorch"),
    # ------------------------------------------------------------------------------ dehaze
    PaperTool("maxim-dehaze", "dehaze", "MAXIM-2S", "dehazing (SOTS outdoor)", MAXIM,
              unavailable=MAXIM_REASON, upstream_file="ckpt/Dehazing/SOTS-Outdoor/checkpoint.npz"),
    PaperTool("x-restormer-dehaze", "dehaze", "X-Restormer", "dehazing", X_RESTORMER,
              unavailable=NOT_IN_SPANDREL, upstream_file="dehaze_300k.pth"),
    PaperTool("ridcp", "dehaze", "RIDCP", "real image dehazing (codebook prior)", "https://github.com/RQ-Wu/RIDCP_dehazing",
              unavailable=NOT_IN_SPANDREL + "; it also needs a VQGAN codebook and deformable-convolution ops",
              upstream_file="pretrained_RIDCP.pth"),
    PaperTool("dehazeformer", "dehaze", "DehazeFormer-B", "dehazing", "https://github.com/IDKiro/DehazeFormer",
              unavailable=NOT_IN_SPANDREL, upstream_file="dehazeformer-b.pth"),
)


def fbcnn_quality_call(quality_factor: int):  # -> ModelCall (torch imported lazily)
    """Call FBCNN with its quality input fixed: ``qf_input = 1 − q/100``, one row per image."""
    if not 1 <= quality_factor <= 100:
        raise ValueError(f"FBCNN quality factor must be in 1..100, got {quality_factor}")
    import torch

    def call(model: torch.nn.Module, x: torch.Tensor, conditions: object) -> torch.Tensor:
        qf = torch.full((x.shape[0], 1), 1.0 - quality_factor / 100.0, dtype=x.dtype, device=x.device)
        return model(x, qf)[0]

    return call


def build_paper_tool(spec: PaperTool, weights_dir: str | os.PathLike | None = None, device: str = "cpu",
                     tile: int | None = None, tile_overlap: int = 32) -> Tool:
    """Load ``spec``'s weights file through spandrel and wrap it in a ``TorchTool``."""
    if spec.loader is None or spec.weights is None:
        from tool_actors.base import UnavailableError

        raise UnavailableError(f"tool {spec.name!r} is unavailable: {spec.unavailable}")
    from tool_actors.neural.devices import resolve_device
    from tool_actors.neural.spandrel_models import load_restoration_model
    from tool_actors.neural.torch_tool import TorchTool, first_output_call, plain_call

    resolve_device(device)  # fail on a bad device before reading a large file
    path = weights_file(spec.weights, weights_dir)
    descriptor = load_restoration_model(path, spec.loader)
    if spec.quality_factor is not None:
        call = fbcnn_quality_call(spec.quality_factor)
    elif spec.loader in ("FBCNN", "MPRNet"):
        call = first_output_call
    else:
        call = plain_call
    req = descriptor.size_requirements
    return TorchTool(spec.name, spec.category, describe(spec), descriptor.model, device,
                     supports_half=descriptor.supports_half, multiple_of=req.multiple_of, minimum=req.minimum,
                     call=call, tile=tile, tile_overlap=tile_overlap)


def describe(spec: PaperTool) -> str:
    """One line: network and what it was trained for."""
    return f"{spec.architecture}: {spec.trained_for}"


def _register(spec: PaperTool) -> None:
    def factory(weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> Tool:
        return build_paper_tool(spec, weights_dir=weights_dir, device=device)

    extra = {"architecture": spec.architecture, "trained_for": spec.trained_for, "source": spec.source,
             "loader": "spandrel" if spec.loader else None, "spandrel_architecture": spec.loader,
             "upstream_file": spec.upstream_file or (spec.weights.split("/")[-1] if spec.weights else ""),
             "paper_tool": True}
    if spec.quality_factor is not None:
        extra["quality_factor"] = spec.quality_factor
    TOOLS.register(Entry(name=spec.name, factory=factory, description=describe(spec),
                         category=check_category(spec.category), backend="neural",
                         weights=(spec.weights,) if spec.weights else (), embedded=False,
                         unavailable=spec.unavailable, extra=extra))


for _spec in PAPER_TOOLS:
    _register(_spec)
