"""DARE and TIES arithmetic on hand-made tensors, with the expected values worked out in comments."""

from __future__ import annotations

from typing import Any

import pytest

from damoc.model.mergers.dare_ties import DareTies, dare_drop, ties_merge


def gen(seed: int = 0) -> Any:
    import torch

    return torch.Generator().manual_seed(seed)


def test_dare_drops_and_rescales_by_one_over_density() -> None:
    import torch

    # torch.rand(4) with seed 0 = [0.4963, 0.7682, 0.0885, 0.1320]; density 0.5 keeps entries whose draw
    # is < 0.5 (0, 2, 3) and multiplies them by 1/0.5 = 2: [1, 2, 3, 4] -> [2, 0, 6, 8]
    out = dare_drop(torch.tensor([1.0, 2.0, 3.0, 4.0]), 0.5, gen(0))
    assert out.tolist() == [2.0, 0.0, 6.0, 8.0]


def test_dare_keeps_the_expected_delta_and_the_density_fraction() -> None:
    import torch

    delta = torch.full((200_000,), 2.0)
    out = dare_drop(delta, 0.25, gen(0))
    # every kept entry is 2 / 0.25 = 8, every dropped one 0
    assert set(out.unique().tolist()) == {0.0, 8.0}
    # kept fraction ~ density: binomial sd = sqrt(.25 * .75 / 2e5) = 0.001, so 0.005 is 5 sd
    assert float((out != 0).float().mean()) == pytest.approx(0.25, abs=0.005)
    # E[out] = 0.25 * 8 + 0.75 * 0 = 2 = delta (sd of the mean = 8 * 0.001 = 0.008)
    assert float(out.mean()) == pytest.approx(2.0, abs=0.04)
    assert torch.equal(out, dare_drop(delta, 0.25, gen(0)))  # same seed, same mask


def test_dare_density_zero_drops_everything_and_one_keeps_everything() -> None:
    import torch

    delta = torch.tensor([1.5, -2.0])
    assert dare_drop(delta, 0.0, gen()).tolist() == [0.0, 0.0]
    assert dare_drop(delta, 1.0, gen()).tolist() == [1.5, -2.0]


def test_ties_elects_sign_by_summed_magnitude_and_takes_the_disjoint_mean() -> None:
    import torch

    d1 = torch.tensor([3.0, -1.0, 2.0, 0.0, 2.0])
    d2 = torch.tensor([-1.0, -4.0, 2.0, 5.0, -2.0])
    d3 = torch.tensor([-1.0, 2.0, -5.0, -1.0, 0.0])
    # entry 0: sum 3-1-1 = +1 -> '+' (two of three deltas are negative: mass, not count, elects);
    #          agreeing {3} -> 3
    # entry 1: sum -1-4+2 = -3 -> '-'; agreeing {-1, -4} -> -2.5
    # entry 2: sum 2+2-5 = -1 -> '-'; agreeing {-5} -> -5
    # entry 3: sum 0+5-1 = +4 -> '+'; agreeing {5} (a zero, e.g. dropped by DARE, does not count) -> 5
    # entry 4: sum 2-2+0 = 0 -> no sign; nothing agrees -> 0
    assert ties_merge([d1, d2, d3]).tolist() == [3.0, -2.5, -5.0, 5.0, 0.0]


def linear_layers(weights: list[list[float]]) -> list[Any]:
    import torch

    layers = []
    for w in weights:
        layer = torch.nn.Linear(len(w), 1, bias=False)
        with torch.no_grad():
            layer.weight.copy_(torch.tensor([w]))
        layers.append(layer)
    return layers


def merger(density: float, weight: float) -> DareTies:
    return DareTies(DareTies.Params(density=density, weight=weight))


def test_merge_adds_the_weighted_ties_delta_to_the_nearest_kept_layer() -> None:
    layers = linear_layers([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [4.0, -1.0], [-1.0, -3.0]])
    # removing 3 and 4 of 5: both go to kept layer 2; deltas W3 - W2 = [3, -2], W4 - W2 = [-2, -4]
    # TIES: entry 0 sum +1 -> '+', mean {3} = 3; entry 1 sum -6 -> '-', mean {-2, -4} = -3
    # W2 += 0.5 * [3, -3] = [1 + 1.5, 1 - 1.5] = [2.5, -0.5]  (density 1: DARE keeps all)
    assert merger(1.0, 0.5).merge(layers, [3, 4], seed=0) == {2: [3, 4]}
    assert layers[2].weight.tolist() == [[2.5, -0.5]]
    assert layers[0].weight.tolist() == [[0.0, 0.0]]


def test_merge_with_density_zero_is_plain_removal() -> None:
    layers = linear_layers([[1.0], [4.0], [10.0]])
    assert merger(0.0, 1.0).merge(layers, [1], seed=0) == {0: [1]}  # ties at distance 1 go to the preceding
    assert [layer.weight.item() for layer in layers] == [1.0, 4.0, 10.0]
