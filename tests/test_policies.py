"""The policy networks, the RLlib module (forward shapes, values, masking) and the standalone policy file."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from policies.export import PolicyFileError, PolicyMeta, check_toolbox, load_policy, save_policy
from policies.nets import MASKED_LOGIT, ActorCritic
from policies.observation import ObservationLayout, action_mask


def meta(n_tools: int = 3, dim: int = 4, stop: bool = True) -> PolicyMeta:
    return PolicyMeta(tools=[f"t{i}" for i in range(n_tools)], stop_action=stop, max_steps=5, encoder="enc",
                      encoder_dim=dim, scorer="sc")


def test_actor_critic_shapes_and_paper_architecture() -> None:
    net = ActorCritic(10, 4)
    x = torch.randn(6, 10)
    assert net.logits(x).shape == (6, 4)
    assert net.value(x).shape == (6,)
    # two hidden layers of 128 with LayerNorm + ReLU, for the actor and (separately) the critic
    kinds = [type(m).__name__ for m in net.pi]
    assert kinds == ["Linear", "LayerNorm", "ReLU", "Linear", "LayerNorm", "ReLU", "Linear"]
    assert net.pi[0].out_features == 128 and net.pi[3].out_features == 128
    assert net.vf is not None and net.vf[-1].out_features == 1
    assert all(p.data_ptr() != q.data_ptr() for p in net.pi.parameters() for q in net.vf.parameters())
    assert ActorCritic(10, 4, critic=False).value(x).abs().sum() == 0


def test_masking_removes_actions() -> None:
    net = ActorCritic(5, 3)
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    logits = net.logits(torch.randn(1, 5), mask)
    assert logits[0, 1] == MASKED_LOGIT
    probs = torch.softmax(logits, -1)
    assert probs[0, 1] == 0 and torch.isclose(probs.sum(), torch.tensor(1.0))


def test_observation_layout_and_mask() -> None:
    layout = ObservationLayout(encoder_dim=3, n_tools=2)
    obs = layout.build(np.array([0.1, 0.2, 0.3]), np.array([1, 0]), step=2, max_steps=5)
    assert obs.dtype == np.float32 and obs.shape == (6,) == (layout.dim,)
    assert obs.tolist() == pytest.approx([0.1, 0.2, 0.3, 1.0, 0.0, 0.4])
    with pytest.raises(ValueError, match="expects 3"):
        layout.build(np.zeros(4), np.zeros(2), 0, 5)
    assert action_mask(np.array([1, 0]), stop_action=True).tolist() == [1, 0, 1]
    assert action_mask(np.array([1, 1]), False, np.array([1, 0]), mask_repeats=True).tolist() == [0, 1]
    with pytest.raises(ValueError, match="every action is masked"):
        action_mask(np.array([0, 0]), stop_action=False)


def test_rllib_module_forward_value_and_mask() -> None:
    from ray.rllib.core.columns import Columns

    from policies.module import MaskedActorCriticModule

    obs_space = gym.spaces.Dict({"obs": gym.spaces.Box(-np.inf, np.inf, (7,), np.float32),
                                 "action_mask": gym.spaces.Box(0.0, 1.0, (4,), np.float32)})
    module = MaskedActorCriticModule(observation_space=obs_space, action_space=gym.spaces.Discrete(4),
                                     model_config={"hidden": [128, 128]})
    batch = {Columns.OBS: {"obs": torch.randn(5, 7), "action_mask": torch.tensor([[1.0, 1, 0, 1]] * 5)}}
    out = module.forward_inference(batch)
    logits = out[Columns.ACTION_DIST_INPUTS]
    assert logits.shape == (5, 4) and torch.all(logits[:, 2] == MASKED_LOGIT)
    train_out = module.forward_train(batch)
    values = module.compute_values(batch, embeddings=train_out[Columns.EMBEDDINGS])
    assert values.shape == (5,)
    assert torch.allclose(values, module.compute_values(batch))
    n_params = sum(p.numel() for p in module.parameters())
    assert n_params == sum(p.numel() for p in ActorCritic(7, 4).parameters())  # no encoder inside
    with pytest.raises(ValueError, match="Dict observation space"):
        MaskedActorCriticModule(observation_space=gym.spaces.Box(0, 1, (3,)), action_space=gym.spaces.Discrete(2))


def test_policy_file_round_trip(tmp_path) -> None:
    m = meta()
    net = ActorCritic(m.layout.dim, len(m.actions))
    path = save_policy(tmp_path / "run" / "policy.safetensors", net, m)
    assert path.suffix == ".safetensors" and path.with_suffix(".json").is_file()
    loaded, m2 = load_policy(tmp_path / "run")  # a run directory works too
    x = torch.randn(3, m.layout.dim)
    assert torch.equal(loaded.logits(x), net.logits(x))
    assert m2.actions == ["t0", "t1", "t2", "STOP"] and m2.encoder_dim == 4
    data = json.loads(path.with_suffix(".json").read_text())
    assert data["format"] == "restore-ray-policy" and data["observation"]["dim"] == m.layout.dim
    assert [p["name"] for p in data["observation"]["layout"]] == ["embedding", "action_record", "step_fraction"]


def test_policy_file_needs_no_pickle(tmp_path) -> None:
    m = meta()
    path = save_policy(tmp_path / "p.safetensors", ActorCritic(m.layout.dim, len(m.actions)), m)
    raw = path.read_bytes()
    assert b"\x80\x04" not in raw[:64]  # not a pickle stream; safetensors starts with a JSON header length
    header_len = int.from_bytes(raw[:8], "little")
    assert json.loads(raw[8:8 + header_len])["__metadata__"]["format"] == "restore-ray-policy"


def test_policy_file_errors(tmp_path) -> None:
    m = meta()
    with pytest.raises(PolicyFileError, match="does not match the metadata"):
        save_policy(tmp_path / "x.safetensors", ActorCritic(3, 2), m)
    with pytest.raises(PolicyFileError, match="not found"):
        load_policy(tmp_path / "missing.safetensors")
    path = save_policy(tmp_path / "p.safetensors", ActorCritic(m.layout.dim, len(m.actions)), m)
    sidecar = path.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(PolicyFileError, match="version 99 is not supported"):
        load_policy(path)
    sidecar.write_text(json.dumps({**data, "encoder": {"name": "enc", "dim": 5}}))
    with pytest.raises(PolicyFileError, match="weights do not match"):
        load_policy(path)
    sidecar.write_text("{broken")
    with pytest.raises(PolicyFileError, match="not valid JSON"):
        load_policy(path)
    with pytest.raises(PolicyFileError, match=r"lacks \['t2'\]"):
        check_toolbox(m, ["t0", "t1"])
