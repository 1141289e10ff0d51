"""Layer scorers against independent references: hand-made hidden states and HF ``output_hidden_states``."""

from __future__ import annotations

import math
from typing import Any

import pytest

from damoc.model.scorers.angular import AngularBlock, closest_block
from damoc.model.scorers.angular_all_tokens import AngularAllTokens
from damoc.model.scorers.angular_answer import AngularAnswer
from damoc.model.scorers.block_influence import BlockInfluence
from damoc.model.scorers.block_influence_answer import BlockInfluenceAnswer
from damoc.model.similarity import angular_distance, last_token_weights
from damoc.testing import TINY_ARCHS as ARCHS
from damoc.testing import tiny_config

# Hand-made hidden states h[0]..h[4] of a 4-layer model: unit vectors at these angles (degrees), for
# one sequence [token 0, token 1 (last), pad]. The pad token is where a scorer that ignored the mask
# would look; it moves nowhere, so every block would tie at distance 0 there.
ANGLES = {
    "token0": [0, 0, 0, 90, 180],
    "last": [0, 90, 120, 150, 270],
    "pad": [0, 0, 0, 0, 0],
}


def unit(deg: float) -> list[float]:
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def fixed_model(angles: dict[str, list[int]]) -> Any:
    """A 'llama' whose layer l ignores its input and outputs h[l+1]; the body starts from h[0]."""
    import torch
    from torch import nn

    states = torch.tensor([[[unit(a) for a in angles[k]] for k in ("token0", "last", "pad")]])
    states = states.permute(2, 0, 1, 3)  # [layer, batch=1, seq=3, hidden=2]

    class Layer(nn.Module):
        def __init__(self, out: Any) -> None:
            super().__init__()
            self.register_buffer("out", out)

        def forward(self, hidden_states: Any, **_: Any) -> Any:
            return self.out

    class Body(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("h0", states[0])
            self.layers = nn.ModuleList(Layer(s) for s in states[1:])

        def forward(self, input_ids: Any, attention_mask: Any, use_cache: bool) -> Any:
            h = self.h0
            for layer in self.layers:
                h = layer(h)
            return h

    class LM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = type("Config", (), {"model_type": "llama"})()
            self.model = Body()

    return LM()


def hand_batch() -> list[dict[str, Any]]:
    import torch

    return [{"input_ids": torch.tensor([[5, 6, 0]]), "attention_mask": torch.tensor([[1, 1, 0]])}]


def test_angular_distance_of_hand_made_vectors() -> None:
    import torch

    a = torch.tensor([[1.0, 0.0]] * 6)
    b = torch.tensor([[2.0, 0.0], [1.0, 1.0], [1.0, math.sqrt(3)], [0.0, 3.0], [-1.0, math.sqrt(3)], [-5.0, 0.0]])
    # cos = 1, 1/sqrt2, 1/2, 0, -1/2, -1 -> arccos = 0, pi/4, pi/3, pi/2, 2pi/3, pi -> /pi:
    expected = [0.0, 0.25, 1 / 3, 0.5, 2 / 3, 1.0]
    assert angular_distance(a, b).tolist() == pytest.approx(expected, abs=1e-6)


def test_last_token_weights_with_right_and_left_padding() -> None:
    import torch

    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])
    # the last 1 of each row; a row with no token gets no weight
    expected = [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert last_token_weights(mask).tolist() == expected


def test_angular_uses_the_last_non_pad_token_and_removes_the_closest_block() -> None:
    result = AngularBlock(AngularBlock.Params()).score(fixed_model(ANGLES), hand_batch(), 2, None)
    # last token, n = 2: d(h0,h2) = 120/180, d(h1,h3) = 60/180, d(h2,h4) = 150/180 -> block l* = 1
    # (the pad token would tie every block at 0 and pick l* = 0; token 0 alone would pick l* = 0 too)
    assert result.removed == [1, 2]
    # per-layer scores d(h_l, h_l+1) of the last token: 90, 30, 30, 120 degrees / 180
    assert result.scores == pytest.approx([0.5, 1 / 6, 1 / 6, 2 / 3], abs=1e-6)
    assert result.tokens == 2


def test_angular_all_tokens_averages_every_non_pad_token() -> None:
    result = AngularAllTokens(AngularAllTokens.Params()).score(fixed_model(ANGLES), hand_batch(), 2, None)
    # mean over tokens 0 and last, n = 2: l=0: (0 + 120)/2/180 = 1/3; l=1: (90 + 60)/2/180 = 5/12;
    # l=2: (180 + 150)/2/180 = 11/12 -> block l* = 0, unlike the paper's last-token choice
    assert result.removed == [0, 1]
    # per layer: ((0+90)/2, (0+30)/2, (90+30)/2, (90+120)/2) / 180
    assert result.scores == pytest.approx([0.25, 1 / 12, 1 / 3, 7 / 12], abs=1e-6)


def test_block_influence_of_hand_made_states() -> None:
    result = BlockInfluence(BlockInfluence.Params()).score(fixed_model(ANGLES), hand_batch(), 1, None)
    # BI_i = 1 - mean over tokens 0 and last of cos(h_i, h_i+1); pad excluded
    # layer 0: cos 0 = 1, cos 90 = 0            -> 1 - 1/2            = 0.5
    # layer 1: cos 0 = 1, cos 30 = sqrt3/2      -> 1 - (1 + .8660)/2  = 0.0669873
    # layer 2: cos 90 = 0, cos 30 = sqrt3/2     -> 1 - .8660/2        = 0.5669873
    # layer 3: cos 90 = 0, cos 120 = -1/2       -> 1 - (-.5)/2        = 1.25
    assert result.scores == pytest.approx([0.5, 0.0669873, 0.5669873, 1.25], abs=1e-6)
    assert result.removed == [1]


def test_answer_scorers_measure_only_the_positions_that_predict_the_answer() -> None:
    import torch

    # the answer is token 1 (the last), so the state that predicts it is token 0's: only token 0 counts
    batch = [{**hand_batch()[0], "labels": torch.tensor([[-100, 6, -100]])}]
    bi = BlockInfluenceAnswer(BlockInfluenceAnswer.Params()).score(fixed_model(ANGLES), [], 1, None, batch)
    # token 0 moves 0, 0, 90, 90 degrees: 1 - cos = 0, 0, 1, 1 (all tokens would remove layer 1, not 0)
    assert bi.scores == pytest.approx([0.0, 0.0, 1.0, 1.0], abs=1e-6)
    assert bi.removed == [0]
    ang = AngularAnswer(AngularAnswer.Params()).score(fixed_model(ANGLES), [], 2, None, batch)
    # n = 2: d(h0,h2) = 0, d(h1,h3) = 90/180, d(h2,h4) = 180/180 -> l* = 0 (the last token picks l* = 1)
    assert ang.removed == [0, 1]
    assert ang.scores == pytest.approx([0.0, 0.0, 0.5, 0.5], abs=1e-6)


def test_closest_block_picks_only_the_minimum() -> None:
    # distances d(h_l, h_l+3) for starts l = 0..4: only l = 3 is the minimum, and removing [3, 4, 5]
    # is the only answer; ties go to the shallower block
    assert closest_block([0.4, 0.3, 0.5, 0.1, 0.2], 3) == [3, 4, 5]
    assert closest_block([0.2, 0.1, 0.1], 2) == [1, 2]
    assert closest_block([0.2, 0.1], 0) == []


# ---------------------------------------------------------------- tiny models vs HF hidden_states


def tiny_model(arch: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, 64)).eval()
    with torch.no_grad():  # bigger weights than the 0.02 init, so layers turn the residual stream visibly
        for p in model.model.layers.parameters():
            p.mul_(20.0)
    return model


SEQS = [[1, 5, 9, 13, 17, 21, 25], [1, 7, 3], [1, 40, 41, 42, 43]]


def right_padded(seqs: list[list[int]]) -> dict[str, Any]:
    import torch

    width = max(map(len, seqs))
    ids = torch.tensor([s + [0] * (width - len(s)) for s in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
    return {"input_ids": ids, "attention_mask": mask}


def reference_states(model: Any, seq: list[int]) -> list[Any]:
    """h[0]..h[L] of one unpadded sequence from ``output_hidden_states``.

    HF returns hidden_states[L] after the final norm, so the norm is swapped for the identity here:
    then hidden_states[L] is the last layer's raw output, the input/output pairs the methods define.
    """
    import torch

    norm = model.model.norm
    model.model.norm = torch.nn.Identity()
    try:
        with torch.no_grad():
            return [h[0] for h in model(torch.tensor([seq]), output_hidden_states=True).hidden_states]
    finally:
        model.model.norm = norm


def cos(a: Any, b: Any) -> Any:
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def block_influence(states: list[list[Any]]) -> list[float]:
    """ShortGPT: 1 - cosine of layer i's input and output, pooled over every token of every sequence."""
    import torch

    num_layers = len(states[0]) - 1
    return [1 - float(torch.cat([cos(h[i], h[i + 1]) for h in states]).mean()) for i in range(num_layers)]


def last_token_angular(states: list[list[Any]], gap: int) -> list[float]:
    """Gromov et al.: arccos(cos(x_T^l, x_T^(l+gap)))/pi of the last token, averaged over sequences."""
    import torch

    starts = range(len(states[0]) - gap)
    return [
        sum(float(torch.arccos(cos(h[i][-1], h[i + gap][-1]).clamp(-1, 1))) for h in states) / math.pi / len(states)
        for i in starts
    ]


@pytest.mark.parametrize("arch", ARCHS)
def test_scorers_match_a_direct_computation_from_hidden_states(arch: str) -> None:
    model = tiny_model(arch)
    states = [reference_states(model, s) for s in SEQS]
    bi, d1, d3 = block_influence(states), last_token_angular(states, 1), last_token_angular(states, 3)
    batch = [right_padded(SEQS)]  # one right-padded batch: pads must not leak into any mean
    got_bi = BlockInfluence(BlockInfluence.Params()).score(model, batch, 2, None)
    got_ang = AngularBlock(AngularBlock.Params()).score(model, batch, 3, None)
    assert got_bi.scores == pytest.approx(bi, abs=1e-5)
    assert got_bi.removed == sorted(sorted(range(len(bi)), key=lambda i: bi[i])[:2])
    assert got_ang.scores == pytest.approx(d1, abs=1e-5)
    start = min(range(len(d3)), key=lambda i: d3[i])
    assert got_ang.removed == [start, start + 1, start + 2]
    assert got_bi.tokens == got_ang.tokens == sum(map(len, SEQS))
