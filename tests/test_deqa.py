"""DeQA-Score: the score formula, the preprocessing, the prompt, and the real loading and scoring path
with a tiny randomly initialised mPLUG-Owl2 (hidden 64, 2 layers, small vision tower) and a
word-level tokenizer that knows the level words, saved to a temp weights directory."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tool_actors.base import UnavailableError
from tool_actors.registry import SCORERS
from tool_actors.scorers.deqa import (
    CLIP_MEAN,
    CLIP_STD,
    FOLDER,
    LEVELS,
    PAD_COLOUR,
    PROMPT,
    check_folder,
    expand_to_square,
    level_score,
    level_token_ids,
    preprocess,
    prompt_ids,
    word_level_tokenizer,
)

@pytest.fixture(scope="module")
def tiny_deqa(tmp_path_factory) -> Path:
    """WEIGHTS/DeQA-Score-Mix3 with a tiny random model (image size 28, patch 14) and the tokenizer."""
    from tool_actors.scorers import deqa_arch

    root = tmp_path_factory.mktemp("weights")
    folder = root / FOLDER
    tokenizer = word_level_tokenizer()
    tokenizer.save_pretrained(folder)
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 28, "patch_size": 14}
    abstractor = {"num_learnable_queries": 4, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                  "intermediate_size": 64, "encoder_hidden_size": 32, "grid_size": 2}
    config = deqa_arch.config_class()(
        visual_config={"visual_model": vision, "visual_abstractor": abstractor}, vocab_size=len(tokenizer),
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=128)
    torch.manual_seed(0)
    deqa_arch.model_class()(config).save_pretrained(folder)
    return root


# ------------------------------------------------------------------------------ pure functions
def test_level_score_matches_hand_computed_softmax() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -2.0], [0.0, 0.0, 0.0, 0.0, 0.0], [-50.0, -50.0, -50.0, -50.0, 50.0]])
    expected = []
    for row in logits.tolist():
        e = [math.exp(v) for v in row]
        expected.append(sum(w * x for w, x in zip((5, 4, 3, 2, 1), e)) / sum(e))
    np.testing.assert_allclose(level_score(logits).numpy(), expected, rtol=1e-6)
    assert expected[1] == pytest.approx(3.0) and expected[2] == pytest.approx(1.0)


def test_expand_to_square_pads_centred_with_the_clip_mean_colour() -> None:
    img = np.full((2, 6, 3), 9, np.uint8)
    sq = expand_to_square(img)
    assert sq.shape == (6, 6, 3) and PAD_COLOUR == (122, 116, 104)
    np.testing.assert_array_equal(sq[2:4], img)
    np.testing.assert_array_equal(sq[0, 0], PAD_COLOUR)
    np.testing.assert_array_equal(sq[5, 5], PAD_COLOUR)
    assert expand_to_square(sq) is sq


def test_preprocess_is_clip_normalised_bicubic() -> None:
    img = np.full((1, 10, 20, 3), 255, np.uint8)
    x = preprocess(img, 28)
    assert x.shape == (1, 3, 28, 28) and x.dtype == torch.float32
    white = (1.0 - np.asarray(CLIP_MEAN)) / np.asarray(CLIP_STD)
    np.testing.assert_allclose(x[0, :, 14, 14].numpy(), white, rtol=1e-5)  # image centre
    pad = (np.asarray(PAD_COLOUR) / 255.0 - np.asarray(CLIP_MEAN)) / np.asarray(CLIP_STD)
    np.testing.assert_allclose(x[0, :, 0, 14].numpy(), pad, atol=1e-2)  # padded top row


def test_prompt_ids_keep_one_bos_and_mark_the_image() -> None:
    tok = word_level_tokenizer()
    ids = prompt_ids(tok, PROMPT, -200)
    assert ids[0] == tok.bos_token_id and ids.count(tok.bos_token_id) == 1
    assert ids.count(-200) == 1
    before, after = PROMPT.split("<|image|>")
    assert ids[:ids.index(-200)] == tok(before).input_ids
    assert ids[ids.index(-200) + 1:] == tok(after, add_special_tokens=False).input_ids
    assert tok.unk_token_id not in ids


def test_level_token_ids_are_the_level_words() -> None:
    tok = word_level_tokenizer()
    ids = level_token_ids(tok)
    assert [tok.convert_ids_to_tokens(i) for i in ids] == ["▁" + w for w in LEVELS]


def test_folder_checks_name_what_is_missing(tmp_path) -> None:
    with pytest.raises(UnavailableError, match="does not exist"):
        check_folder(tmp_path / "nope")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UnavailableError, match="tokenizer.model or tokenizer.json.*model weights"):
        check_folder(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "model.safetensors"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(UnavailableError, match="mplug_owl2"):
        check_folder(tmp_path)


# --------------------------------------------------------------------- the real loading path
def test_deqa_loads_through_the_registry_and_scores_a_batch(tiny_deqa, scoring_no_network, scoring_crops) -> None:
    torch.set_num_threads(1)
    assert SCORERS.get("deqa").availability(tiny_deqa) == (True, "ok")
    scorer = SCORERS.build("deqa", weights_dir=tiny_deqa)
    assert scorer.image_size == 28 and scorer.higher_is_better and scorer.score_range == (1.0, 5.0)
    batch = np.concatenate([scoring_crops["clean"][:2], scoring_crops["degraded"][:1]])[:, :150]  # not square
    out = scorer(batch)
    assert out.shape == (3,) and out.dtype == np.float32
    assert np.all((out >= 1.0) & (out <= 5.0))
    np.testing.assert_allclose(out, np.concatenate([scorer(b[None]) for b in batch]), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(scorer(batch), out)


def test_deqa_score_is_the_level_softmax_of_the_model_logits(tiny_deqa, scoring_crops) -> None:
    from tool_actors.scorers import deqa_arch

    scorer = SCORERS.build("deqa", weights_dir=tiny_deqa)
    batch = scoring_crops["clean"][:2]
    # recompute by hand: prompt ids, preprocessing, a plain forward of the model, the level words
    tok = scorer.tokenizer
    ids = torch.tensor([prompt_ids(tok, PROMPT, deqa_arch.IMAGE_TOKEN_INDEX)] * 2)
    with torch.inference_mode():
        logits = scorer.model(input_ids=ids, images=preprocess(batch, 28))["logits"][:, -1]
    level = logits[:, [tok.convert_tokens_to_ids("▁" + w) for w in LEVELS]]
    np.testing.assert_allclose(scorer(batch), level_score(level).numpy(), rtol=1e-5)


def test_deqa_from_model_scores_like_the_loaded_folder(tiny_deqa, scoring_crops) -> None:
    from tool_actors.scorers.deqa import DeQAScorer

    loaded = SCORERS.build("deqa", weights_dir=tiny_deqa)
    wrapped = DeQAScorer.from_model(loaded.model, word_level_tokenizer(), device="cpu")
    assert wrapped.folder is None and wrapped.image_size == loaded.image_size
    batch = scoring_crops["degraded"][:2]
    np.testing.assert_array_equal(wrapped(batch), loaded(batch))
