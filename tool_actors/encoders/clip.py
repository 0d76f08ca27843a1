"""CLIP image encoders (open_clip): the paper's frozen ViT-L/14, from a local checkpoint only.

| encoder    | open_clip model      | file in the weights directory             | dim |
| ---------- | -------------------- | ----------------------------------------- | --- |
| ``clip``     | ``ViT-L-14-quickgelu`` | ``open_clip/ViT-L-14-quickgelu.safetensors`` | 768 |
| ``clip-b32`` | ``ViT-B-32-quickgelu`` | ``open_clip/ViT-B-32-quickgelu.safetensors`` | 512 |

The files are open_clip checkpoints (a state dict as ``.safetensors``; open_clip's loader also
reads ``.pt``/``.bin`` state dicts and OpenAI's TorchScript archives, so any of these may be
renamed to the expected name). OpenAI's CLIP weights use QuickGELU, hence the ``-quickgelu``
model configs; e.g. the Hugging Face repository ``timm/vit_large_patch14_clip_224.openai`` holds
``open_clip_model.safetensors`` for ``clip``. ``OpenClipEncoder`` takes any open_clip model name
and checkpoint path directly.

Preprocessing is open_clip's evaluation transform done on the batch: bicubic resize of the short
side to the model's input size (antialiased), centre crop, the model's mean/std. The output is the
L2-normalised image embedding (``encode_image(normalize=True)``). The model is frozen (``eval``,
no gradients); float16 on CUDA, float32 on CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tool_actors.base import Encoder, UnavailableError
from tool_actors.registry import ENCODERS, Entry
from tool_actors.scorers.tensor import resolve_device, to_tensor
from tool_actors.weights import weights_file


class OpenClipEncoder(Encoder):
    """A frozen open_clip image tower → L2-normalised embeddings."""

    def __init__(self, model_name: str, checkpoint: str | os.PathLike, device: str = "cpu",
                 name: str = "clip") -> None:
        import open_clip

        path = Path(checkpoint)
        if not path.is_file():
            raise UnavailableError(f"open_clip checkpoint {path} does not exist")
        self.name = name
        self.model_name = model_name
        self.device = str(device)
        self._dev = resolve_device(device)
        self._dtype = torch.float16 if self._dev.type == "cuda" else torch.float32
        # a file path as `pretrained` makes open_clip load it and never download
        model = open_clip.create_model(model_name, pretrained=str(path), device=self._dev,
                                       precision="fp16" if self._dtype == torch.float16 else "fp32")
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        visual = self.model.visual
        size = visual.image_size
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        mean = getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
        std = getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
        self._mean = torch.tensor(mean, device=self._dev).view(1, 3, 1, 1)
        self._std = torch.tensor(std, device=self._dev).view(1, 3, 1, 1)
        self.dim = int(self.model.visual.output_dim)
        self.description = f"open_clip {model_name} image embedding (frozen, L2-normalised)"

    def preprocess(self, batch: np.ndarray) -> torch.Tensor:
        """``uint8 (N, H, W, 3)`` → ``(N, 3, S, S)`` normalised model input."""
        x = to_tensor(batch, self._dev)  # (N, 3, H, W) [0, 1]
        h, w = x.shape[-2:]
        scale = self.image_size / min(h, w)
        new = (max(self.image_size, round(h * scale)), max(self.image_size, round(w * scale)))
        x = F.interpolate(x, size=new, mode="bicubic", align_corners=False, antialias=True).clamp_(0.0, 1.0)
        top, left = (new[0] - self.image_size) // 2, (new[1] - self.image_size) // 2
        x = x[..., top:top + self.image_size, left:left + self.image_size]
        return ((x - self._mean) / self._std).to(self._dtype)

    def encode(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            emb = self.model.encode_image(self.preprocess(batch), normalize=True)
        return emb.float().cpu().numpy()


_SPECS = (
    ("clip", "ViT-L-14-quickgelu", "open_clip/ViT-L-14-quickgelu.safetensors", 768,
     "CLIP ViT-L/14 (OpenAI weights via open_clip), the paper's frozen encoder"),
    ("clip-b32", "ViT-B-32-quickgelu", "open_clip/ViT-B-32-quickgelu.safetensors", 512,
     "CLIP ViT-B/32 (OpenAI weights via open_clip), a smaller frozen encoder"),
)


def _factory(name: str, model_name: str, filename: str):
    def make(weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> OpenClipEncoder:
        return OpenClipEncoder(model_name, weights_file(filename, weights_dir), device=device, name=name)

    return make


for _name, _model, _file, _dim, _desc in _SPECS:
    ENCODERS.register(Entry(
        name=_name,
        factory=_factory(_name, _model, _file),
        description=_desc,
        backend="neural",
        weights=(_file,),
        extra={"dim": _dim, "open_clip_model": _model},
    ))
