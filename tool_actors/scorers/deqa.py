"""DeQA-Score (You et al., CVPR 2025): the paper's reward, an mPLUG-Owl2 judge read as a 1–5 score.

Loading: from a local folder only (``local_files_only``), ``WEIGHTS/DeQA-Score-Mix3/`` by default,
laid out as the Hugging Face repository ``zhiyuanyou/DeQA-Score-Mix3`` is:

    DeQA-Score-Mix3/
      config.json                      model_type "mplug_owl2", with visual_config
      model-0000k-of-0000n.safetensors (+ model.safetensors.index.json), or pytorch_model*.bin
      tokenizer.model | tokenizer.json, tokenizer_config.json, special_tokens_map.json
      generation_config.json, preprocessor_config.json   (optional; not read)

e.g. ``huggingface-cli download zhiyuanyou/DeQA-Score-Mix3 --local-dir WEIGHTS/DeQA-Score-Mix3`` on
a machine with network access. The architecture comes from pyiqa's vendored port (``deqa_arch``);
no code is taken from the folder (no ``trust_remote_code``).

Scoring, as in DeQA-Score's ``src/evaluate/scorer.py``:

1. Each image is padded to a square with the CLIP mean colour (122, 116, 104), centred; resized to
   the vision tower's size (448) with PIL's bicubic filter; scaled to [0, 1] and normalised with
   CLIP's mean and std.
2. Prompt ``"USER: How would you rate the quality of this image?\\n<|image|>\\nASSISTANT: The quality
   of the image is"``, tokenised per chunk (the image tag becomes the visual tokens).
3. The next-token logits of the five level words (excellent, good, fair, poor, bad: the first token
   of each word) → softmax → dot [5, 4, 3, 2, 1]. The score lies in [1, 5]; higher is better.

A batch goes through the model at once; on CUDA the model runs in float16, on CPU in float32.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from tool_actors.base import Scorer, UnavailableError
from tool_actors.registry import SCORERS, Entry
from tool_actors.scorers.tensor import resolve_device
from tool_actors.weights import weights_dir as resolve_weights_dir

FOLDER = "DeQA-Score-Mix3"
PROMPT = "USER: How would you rate the quality of this image?\n<|image|>\nASSISTANT: The quality of the image is"
IMAGE_TAG = "<|image|>"
LEVELS = ("excellent", "good", "fair", "poor", "bad")
LEVEL_VALUES = (5.0, 4.0, 3.0, 2.0, 1.0)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
PAD_COLOUR = tuple(int(m * 255) for m in CLIP_MEAN)  # (122, 116, 104), as DeQA computes it
TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json")
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")


def level_score(logits: torch.Tensor) -> torch.Tensor:
    """``(N, 5)`` level-word logits (excellent … bad) → ``(N,)`` expected level in [1, 5]."""
    values = torch.tensor(LEVEL_VALUES, dtype=torch.float32, device=logits.device)
    return torch.softmax(logits.float(), dim=-1) @ values


def expand_to_square(image: np.ndarray, colour: tuple[int, int, int] = PAD_COLOUR) -> np.ndarray:
    """Pad ``(H, W, 3)`` to a centred square on a ``colour`` background (DeQA's ``expand2square``)."""
    h, w = image.shape[:2]
    if h == w:
        return image
    side = max(h, w)
    out = np.empty((side, side, 3), np.uint8)
    out[:] = np.asarray(colour, np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    out[top:top + h, left:left + w] = image
    return out


def preprocess(batch: np.ndarray, size: int) -> torch.Tensor:
    """``uint8 (N, H, W, 3)`` → ``float32 (N, 3, size, size)``: square, bicubic, CLIP-normalised."""
    mean = np.asarray(CLIP_MEAN, np.float32)
    std = np.asarray(CLIP_STD, np.float32)
    out = []
    for img in batch:
        square = Image.fromarray(expand_to_square(img)).resize((size, size), Image.Resampling.BICUBIC)
        x = (np.asarray(square, np.float32) / 255.0 - mean) / std  # (size, size, 3)
        out.append(x.transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def prompt_ids(tokenizer: Any, prompt: str = PROMPT, image_token_index: int = -200) -> list[int]:
    """Token ids of ``prompt`` with the image tag replaced by ``image_token_index``.

    Each text chunk is tokenised on its own, as DeQA's ``tokenizer_image_token`` does: the first
    chunk keeps the tokenizer's begin-of-sequence token, later chunks drop theirs.
    """
    chunks = prompt.split(IMAGE_TAG)
    ids: list[int] = []
    bos = tokenizer.bos_token_id
    for i, chunk in enumerate(chunks):
        piece = list(tokenizer(chunk).input_ids) if chunk else []
        if i > 0:
            if piece and bos is not None and piece[0] == bos:
                piece = piece[1:]
            ids.append(image_token_index)
        ids.extend(piece)
    return ids


def level_token_ids(tokenizer: Any) -> list[int]:
    """Id of the first token of each level word (DeQA: ``tokenizer(word).input_ids[1]`` after the BOS)."""
    ids = []
    for word in LEVELS:
        pieces = list(tokenizer(word, add_special_tokens=False).input_ids)
        if not pieces:
            raise UnavailableError(f"DeQA tokenizer encodes the level word {word!r} as nothing")
        unk = getattr(tokenizer, "unk_token_id", None)
        if unk is not None and pieces[0] == unk:
            raise UnavailableError(f"DeQA tokenizer maps the level word {word!r} to the unknown token; "
                                   "is this the DeQA-Score (LLaMA-2) tokenizer?")
        ids.append(int(pieces[0]))
    if len(set(ids)) != len(ids):
        raise UnavailableError(f"DeQA tokenizer gives the level words {LEVELS} non-distinct ids {ids}")
    return ids


PROMPT_WORDS = ("\n", "USER", ":", "How", "would", "you", "rate", "the", "quality", "of", "this", "image", "?",
                "ASSISTANT", "The", "is") + LEVELS


def word_level_tokenizer() -> Any:
    """A LLaMA-like word-level tokenizer that knows only the prompt's and the level words.

    For mPLUG-Owl2 models with random weights (the tests' tiny judge, the full-size GPU check):
    metaspace pre-tokenisation and ``<s>`` prepended, like LLaMA's, so ``prompt_ids`` and
    ``level_token_ids`` take the same path as with DeQA-Score's own tokenizer.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for w in PROMPT_WORDS:
        vocab.setdefault("\u2581" + w, len(vocab))  # ▁: SentencePiece's word boundary
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("\n", "isolated"),
        pre_tokenizers.Punctuation(),
        pre_tokenizers.Metaspace(),
    ])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def check_folder(folder: Path) -> None:
    """``UnavailableError`` naming what a DeQA-Score folder lacks."""
    if not folder.is_dir():
        raise UnavailableError(f"DeQA-Score folder {folder} does not exist (expected the files of "
                               "zhiyuanyou/DeQA-Score-Mix3: config.json, weights, tokenizer)")
    missing = []
    if not (folder / "config.json").is_file():
        missing.append("config.json")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        missing.append(" or ".join(TOKENIZER_FILES))
    if not (folder / "tokenizer_config.json").is_file():
        missing.append("tokenizer_config.json")
    if not any(any(folder.glob(p)) for p in WEIGHT_PATTERNS):
        missing.append("model weights (*.safetensors or pytorch_model*.bin)")
    if missing:
        raise UnavailableError(f"DeQA-Score folder {folder} lacks: {', '.join(missing)}")
    model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    if model_type != "mplug_owl2":
        raise UnavailableError(f"{folder / 'config.json'}: model_type is {model_type!r}, expected 'mplug_owl2'")


class DeQAScorer(Scorer):
    """DeQA-Score on a batch: one forward pass of the judge, level-word softmax → [1, 5]."""

    name = "deqa"
    higher_is_better = True
    score_range = (1.0, 5.0)
    description = "DeQA-Score (mPLUG-Owl2 judge, 1–5); the paper's reward"

    def __init__(self, folder: str | os.PathLike, device: str = "cpu") -> None:
        from transformers import AutoTokenizer

        from tool_actors.scorers import deqa_arch

        self.folder = Path(folder)
        check_folder(self.folder)
        dev = resolve_device(device)
        dtype = torch.float16 if dev.type == "cuda" else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
        model = deqa_arch.model_class().from_pretrained(str(self.folder), dtype=dtype, local_files_only=True)
        self._attach(model, tokenizer, device)

    @classmethod
    def from_model(cls, model: torch.nn.Module, tokenizer: Any, device: str = "cpu") -> DeQAScorer:
        """A scorer around an mPLUG-Owl2 model already in memory (same prompt, preprocessing and formula).

        Used to measure a full-size judge with random weights without writing 14 GB to disk first;
        the model keeps its dtype.
        """
        scorer = cls.__new__(cls)
        scorer.folder = None
        scorer._attach(model, tokenizer, device)
        return scorer

    def _attach(self, model: torch.nn.Module, tokenizer: Any, device: str) -> None:
        from tool_actors.scorers import deqa_arch

        self.device = str(device)
        self._dev = resolve_device(device)
        self.tokenizer = tokenizer
        self.model = model.to(self._dev).eval()
        self._dtype = next(self.model.parameters()).dtype
        self.image_size = int(self.model.config.visual_config["visual_model"]["image_size"])
        ids = prompt_ids(self.tokenizer, PROMPT, deqa_arch.IMAGE_TOKEN_INDEX)
        self._input_ids = torch.tensor([ids], dtype=torch.long, device=self._dev)  # (1, T)
        self._level_ids = torch.tensor(level_token_ids(self.tokenizer), dtype=torch.long, device=self._dev)

    def level_logits(self, batch: np.ndarray) -> torch.Tensor:
        """``(N, 5)`` next-token logits of the level words after the prompt."""
        pixels = preprocess(batch, self.image_size).to(self._dev, self._dtype)  # (N, 3, S, S)
        with torch.inference_mode():
            out = self.model(input_ids=self._input_ids.repeat(batch.shape[0], 1), images=pixels)
        return out["logits"][:, -1, self._level_ids]

    def score(self, batch: np.ndarray) -> np.ndarray:
        return level_score(self.level_logits(batch)).cpu().numpy()


def _make(weights_dir: str | os.PathLike | None = None, device: str = "cpu") -> DeQAScorer:
    root = resolve_weights_dir(weights_dir)
    if root is None:
        raise UnavailableError(f"deqa needs the folder {FOLDER}/ in the weights directory: pass --weights DIR "
                               "or set RESTORE_RAY_WEIGHTS")
    return DeQAScorer(root / FOLDER, device=device)


SCORERS.register(Entry(
    name=DeQAScorer.name,
    factory=_make,
    description=DeQAScorer.description,
    category="NR",
    backend="neural",
    weights=(f"{FOLDER}/config.json", f"{FOLDER}/tokenizer_config.json"),
    extra={"higher_is_better": True, "score_range": DeQAScorer.score_range, "folder": FOLDER,
           "source": "zhiyuanyou/DeQA-Score-Mix3 weights on pyiqa 0.1.16's mPLUG-Owl2 port; fp16 on CUDA"},
))
