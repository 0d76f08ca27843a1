"""Neural tools: the paper's networks through spandrel, and the embedded FFDNet / OIDN tools.

The weight-loading path is tested the way spandrel tests itself: each loadable architecture is
built with small hyperparameters and random weights, saved under the documented file name in
the container format its upstream release uses, then built through the registry from that
weights directory and compared with spandrel's own inference on the same file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from restore_ray.datasets import builtin_crops
from restore_ray.degradations import apply_jpeg, apply_noise
from tool_actors.base import UnavailableError
from tool_actors.neural.paper_tools import PAPER_TOOLS
from tool_actors.neural.spandrel_models import load_restoration_model
from tool_actors.neural.torch_tool import TorchTool
from tool_actors.registry import TOOLS

LOADABLE = [s for s in PAPER_TOOLS if s.loader is not None]
UNLOADABLE = [s for s in PAPER_TOOLS if s.loader is None]


def psnr(x: np.ndarray, ref: np.ndarray) -> float:
    mse = np.mean((x.astype(np.float64) - ref.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def _small_models() -> dict[str, tuple[nn.Module, str]]:
    """file name → (random small network, upstream container), one per loadable file."""
    from spandrel.architectures.FBCNN import FBCNN
    from spandrel.architectures.SwinIR import SwinIR
    from spandrel_extra_arches.architectures.MPRNet import MPRNet
    from spandrel_extra_arches.architectures.Restormer import Restormer

    torch.manual_seed(0)

    def swinir(window: int, img_range: float) -> nn.Module:
        return SwinIR(upscale=1, in_chans=3, img_size=4 * window, window_size=window, img_range=img_range,
                      depths=[1, 1], embed_dim=12, num_heads=[2, 2], mlp_ratio=2, upsampler="", resi_connection="1conv")

    def restormer(layer_norm: str) -> nn.Module:
        return Restormer(dim=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1, heads=[1, 1, 1, 1],
                         LayerNorm_type=layer_norm)

    def mprnet() -> nn.Module:
        return MPRNet(n_feat=8, scale_unetfeats=4, scale_orsnetfeats=4, num_cab=1, reduction=4)

    return {
        "SwinIR/005_colorDN_DFWB_s128w8_SwinIR-M_noise15.pth": (swinir(8, 1.0), "params"),
        "SwinIR/005_colorDN_DFWB_s128w8_SwinIR-M_noise50.pth": (swinir(8, 1.0), "params"),
        "SwinIR/006_colorCAR_DFWB_s126w7_SwinIR-M_jpeg40.pth": (swinir(7, 255.0), "params"),
        # FBCNN's quality branch hard-codes 512 features at the bottom; nb = 2 is the smallest spandrel detects.
        "FBCNN/fbcnn_color.pth": (FBCNN(nc=[8, 16, 32, 512], nb=2), "raw"),
        "Restormer/real_denoising.pth": (restormer("BiasFree"), "params"),
        "Restormer/deraining.pth": (restormer("WithBias"), "params"),
        "Restormer/motion_deblurring.pth": (restormer("WithBias"), "params"),
        "Restormer/single_image_defocus_deblurring.pth": (restormer("WithBias"), "params"),
        "MPRNet/model_denoising.pth": (mprnet(), "dataparallel"),
        "MPRNet/model_deraining.pth": (mprnet(), "dataparallel"),
        "MPRNet/model_deblurring.pth": (mprnet(), "dataparallel"),
    }


@pytest.fixture(scope="module")
def neural_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights directory holding every loadable file, randomly initialised."""
    root = tmp_path_factory.mktemp("weights")
    for filename, (model, container) in _small_models().items():
        state = model.state_dict()
        if container == "params":  # BasicSR-style releases (SwinIR, Restormer)
            payload: dict = {"params": state}
        elif container == "dataparallel":  # MPRNet: {"state_dict": {"module.…": …}}
            payload = {"state_dict": {f"module.{k}": v for k, v in state.items()}}
        else:
            payload = state
        (root / filename).parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, root / filename)
    return root


@pytest.fixture(scope="module")
def neural_batch() -> np.ndarray:
    """Two natural crops of an awkward size (not a multiple of 8), uint8 (2, 21, 30, 3)."""
    return np.stack([c[:21, :30] for c in builtin_crops("test", 2, 32, seed=5)])


# ------------------------------------------------------------------------------ the catalogue
def test_paper_toolset_matches_the_paper() -> None:
    per_category = {}
    for spec in PAPER_TOOLS:
        per_category[spec.category] = per_category.get(spec.category, 0) + 1
    # PAPER.md "Tool set": 28 tools, of which the 3 brightening ones are classical.
    assert per_category == {"denoise": 6, "dejpeg": 4, "derain": 4, "deblur_motion": 4,
                            "deblur_defocus": 3, "dehaze": 4}
    assert {s.loader for s in LOADABLE} == {"SwinIR", "FBCNN", "Restormer", "MPRNet"}
    assert len(LOADABLE) == 13 and len(UNLOADABLE) == 12
    for spec in PAPER_TOOLS:
        entry = TOOLS.get(spec.name)
        assert entry.backend == "neural" and entry.category == spec.category and not entry.embedded
        if spec.loader:
            assert entry.weights == (spec.weights,) and entry.unavailable is None
        else:
            assert entry.weights == () and entry.unavailable and entry.extra["upstream_file"]


@pytest.mark.parametrize("spec", UNLOADABLE, ids=lambda s: s.name)
def test_unloadable_tools_are_listed_with_the_reason(spec, neural_weights: Path) -> None:
    ok, reason = TOOLS.get(spec.name).availability(neural_weights)
    assert not ok and "spandrel" in reason
    with pytest.raises(UnavailableError, match=spec.name):
        TOOLS.build(spec.name, weights_dir=neural_weights)


@pytest.mark.parametrize("spec", LOADABLE, ids=lambda s: s.name)
def test_missing_weights_file_names_the_full_path(spec, tmp_path: Path) -> None:
    with pytest.raises(UnavailableError) as err:
        TOOLS.build(spec.name, weights_dir=tmp_path)
    assert str(tmp_path / spec.weights) in str(err.value)


# ------------------------------------------------------------------------ loading and running
def _reference(spec, descriptor, image: np.ndarray) -> np.ndarray:
    """spandrel's own inference on one image (FBCNN with a fixed quality: its quality input)."""
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255.0
    with torch.inference_mode():
        if spec.quality_factor is None:
            y = descriptor(x)
        else:
            y = descriptor.model(x, torch.tensor([[1.0 - spec.quality_factor / 100.0]]))[0].clamp(0, 1)
    return (y[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


@pytest.mark.parametrize("spec", LOADABLE, ids=lambda s: s.name)
def test_loads_through_spandrel_and_matches_its_inference(spec, neural_weights: Path, neural_batch: np.ndarray) -> None:
    tool = TOOLS.build(spec.name, weights_dir=neural_weights)
    assert tool.name == spec.name and tool.category == spec.category and tool.device == "cpu"
    out = tool(neural_batch)
    assert out.dtype == np.uint8 and out.shape == neural_batch.shape
    descriptor = load_restoration_model(neural_weights / spec.weights, spec.loader)
    for image, restored in zip(neural_batch, out):
        expected = _reference(spec, descriptor, image)
        assert int(np.abs(restored.astype(int) - expected.astype(int)).max()) <= 1


def test_fbcnn_quality_factor_reaches_the_network(neural_weights: Path, neural_batch: np.ndarray) -> None:
    outs = {q: TOOLS.build(f"fbcnn-{q}", weights_dir=neural_weights)(neural_batch) for q in ("q5", "q90", "blind")}
    assert not np.array_equal(outs["q5"], outs["q90"])
    assert not np.array_equal(outs["q5"], outs["blind"])


def test_file_of_another_architecture_is_refused(neural_weights: Path, tmp_path: Path) -> None:
    target = tmp_path / "Restormer" / "deraining.pth"
    target.parent.mkdir()
    target.write_bytes((neural_weights / "MPRNet" / "model_deraining.pth").read_bytes())
    with pytest.raises(UnavailableError, match="holds a MPRNet network, expected Restormer"):
        TOOLS.build("restormer-derain", weights_dir=tmp_path)


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "SwinIR" / "005_colorDN_DFWB_s128w8_SwinIR-M_noise15.pth"
    target.parent.mkdir()
    target.write_bytes(b"this is not a checkpoint")
    with pytest.raises(UnavailableError, match=str(target)):
        TOOLS.build("swinir-denoise-s15", weights_dir=tmp_path)


def test_tiling_matches_whole_image_inference() -> None:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(8, 3, 3, padding=1), nn.Sigmoid())
    image = builtin_crops("train", 1, 64, seed=2)[0][:45, :58][None]
    whole = TorchTool("t", "denoise", "", net, multiple_of=8)(image)
    tiled = TorchTool("t", "denoise", "", net, multiple_of=8, tile=24, tile_overlap=6)(image)
    assert tiled.shape == whole.shape
    assert int(np.abs(tiled.astype(int) - whole.astype(int)).max()) <= 1
    with pytest.raises(ValueError, match="larger than"):
        TorchTool("t", "denoise", "", net, multiple_of=8, tile=20, tile_overlap=6)


def test_device_names_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown device"):
        TOOLS.build("ffdnet", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UnavailableError, match="CUDA"):
            TOOLS.build("ffdnet", device="cuda:0")


# ------------------------------------------------------------------------------ embedded tools
@pytest.fixture(scope="module")
def neural_clean() -> np.ndarray:
    """Two clean natural 64×64 crops, uint8 (2, 64, 64, 3)."""
    return np.stack(builtin_crops("test", 2, 64, seed=9))


def test_ffdnet_estimates_the_noise_level_and_denoises(neural_clean: np.ndarray) -> None:
    tool = TOOLS.build("ffdnet")
    for sigma in (15.0, 35.0):
        noisy = np.stack([apply_noise(c, kind="gaussian", sigma=sigma, seed=i) for i, c in enumerate(neural_clean)])
        for used in tool.sigmas(noisy):
            assert used is not None and abs(used / 1.15 - sigma) < 0.15 * sigma
        out = tool(noisy)
        for restored, noisy_image, clean in zip(out, noisy, neural_clean):
            assert psnr(restored, clean) > psnr(noisy_image, clean) + 4.0


def test_ffdnet_dejpeg_reads_the_quality_and_leaves_non_jpeg_images_alone(neural_clean: np.ndarray) -> None:
    from tool_actors.neural.sigma_policies import jpeg_sigma

    tool = TOOLS.build("ffdnet-dejpeg")
    compressed = np.stack([apply_jpeg(c, quality=15) for c in neural_clean])
    assert tool.sigmas(compressed) == pytest.approx([jpeg_sigma(15)] * 2)
    out = tool(compressed)
    assert np.mean([psnr(o, c) - psnr(j, c) for o, j, c in zip(out, compressed, neural_clean)]) > 0.3
    assert tool.sigmas(neural_clean) == [None, None]
    assert np.array_equal(tool(neural_clean), neural_clean)
    assert jpeg_sigma(5) > jpeg_sigma(20) > jpeg_sigma(50) > jpeg_sigma(90) > 0


def test_oidn_denoises_with_torch_thread_count(neural_clean: np.ndarray) -> None:
    tool = TOOLS.build("oidn")
    assert tool._device.get_int("numThreads") == torch.get_num_threads()
    noisy = np.stack([apply_noise(c, kind="gaussian", sigma=30.0, seed=i) for i, c in enumerate(neural_clean)])
    for restored, noisy_image, clean in zip(tool(noisy), noisy, neural_clean):
        assert psnr(restored, clean) > psnr(noisy_image, clean) + 3.0
    tool.close()


def test_oidn_tool_is_released_while_modules_are_torn_down(monkeypatch) -> None:
    # at interpreter exit a tool still referenced from a module global is collected after the
    # interpreter has set module globals to None: its finaliser must still release the device
    import tool_actors.neural.oidn as module

    tool = TOOLS.build("oidn")
    for name in [n for n in vars(module) if not n.startswith("__")]:
        monkeypatch.setattr(module, name, None)
    tool.__del__()
    assert "_device" not in tool.__dict__ and "_filter" not in tool.__dict__
