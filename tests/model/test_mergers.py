"""Merger arithmetic on hand-made tensors (expected values worked out in comments), and every registered
merger's invariants on the tiny models: density 0 is plain removal, one seed one merge, the merged
checkpoint reloads and generates with a KV cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from damoc.model.base import MERGERS
from damoc.model.layers import decoder_layers, remove_layers
from damoc.model.mergers.dare_ties import DareTies
from damoc.model.mergers.deltas import dare_drop, keep_largest, ties_merge
from damoc.registry import registry


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


def test_keep_largest_trims_to_the_rounded_density_and_breaks_ties_by_index() -> None:
    import torch

    delta = torch.tensor([1.0, -5.0, 3.0, 1.0, 5.0])
    # round(0.8 * 5) = 4 entries: |-5|, |5|, |3|, then the first of the two |1|s (index 0)
    assert keep_largest(delta, 0.8).tolist() == [1.0, -5.0, 3.0, 0.0, 5.0]
    # round(0.5 * 5) = round(2.5) = 2 (half to even): the two |5|s
    assert keep_largest(delta, 0.5).tolist() == [0.0, -5.0, 0.0, 0.0, 5.0]
    assert keep_largest(delta, 0.0).tolist() == [0.0] * 5
    assert keep_largest(delta, 1.0).tolist() == delta.tolist()
    assert keep_largest(torch.tensor([[2.0, -1.0], [0.5, -4.0]]), 0.5).tolist() == [[2.0, 0.0], [0.0, -4.0]]


def build(name: str, **params: float) -> Any:
    return MERGERS.build(name, params)


def test_average_adds_the_scaled_sum_of_differences() -> None:
    layers = linear_layers([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [4.0, -1.0], [-1.0, -3.0]])
    # 3 and 4 go to kept layer 2: deltas [3, -2] and [-2, -4] sum to [1, -6]; W2 += 0.5 * [1, -6]
    assert build("average", scale=0.5).merge(layers, [3, 4], seed=0) == {2: [3, 4]}
    assert layers[2].weight.tolist() == [[1.5, -2.0]]


def test_average_with_scale_one_over_k_plus_one_is_the_mean_layer() -> None:
    layers = linear_layers([[1.0, 1.0], [4.0, -1.0], [-2.0, -3.0]])
    # (W0 + W1 + W2) / 3 = [3 / 3, -3 / 3] = [1, -1]
    build("average", scale=1 / 3).merge(layers, [1, 2], seed=0)
    assert layers[0].weight.tolist() == [[pytest.approx(1.0), pytest.approx(-1.0)]]


def test_dare_adds_the_dropped_and_rescaled_delta() -> None:
    layers = linear_layers([[1.0, 1.0, 1.0, 1.0], [2.0, 3.0, 4.0, 5.0]])
    # delta W1 - W0 = [1, 2, 3, 4]; seed 0 draws [0.4963, 0.7682, 0.0885, 0.1320], density 0.5 keeps
    # entries 0, 2, 3 times 1/0.5: [2, 0, 6, 8]; W0 += 0.5 * [2, 0, 6, 8] = [2, 1, 4, 5]
    assert build("dare", density=0.5, weight=0.5).merge(layers, [1], seed=0) == {0: [1]}
    assert layers[0].weight.tolist() == [[2.0, 1.0, 4.0, 5.0]]


def test_dare_with_density_one_sums_the_deltas() -> None:
    layers = linear_layers([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [4.0, -1.0], [-1.0, -3.0]])
    # nothing dropped, nothing rescaled: W2 += 0.5 * ([3, -2] + [-2, -4]) = [1.5, -2], as `average`
    build("dare", density=1.0, weight=0.5).merge(layers, [3, 4], seed=0)
    assert layers[2].weight.tolist() == [[1.5, -2.0]]


# kept W0 = 0, so the deltas of removed layers 1 and 2 are their weights
SIGN_LAYERS = [[0.0, 0.0, 0.0, 0.0], [4.0, -1.0, 2.0, -3.0], [-1.0, -5.0, 3.0, 1.0]]


def test_ties_trims_each_delta_then_takes_the_sign_elected_disjoint_mean() -> None:
    layers = linear_layers(SIGN_LAYERS)
    # trim to round(0.75 * 4) = 3 per delta: d1 -> [4, 0, 2, -3]; |d2| = [1, 5, 3, 1] keeps 5, 3 and the
    # first 1: d2 -> [-1, -5, 3, 0]; sum [3, -5, 5, -3] elects [+, -, +, -]; agreeing means:
    # {4} = 4, {-5} = -5, {2, 3} = 2.5, {-3} = -3 (the trimmed +1 of d2 no longer votes)
    assert build("ties", density=0.75, weight=1.0).merge(layers, [1, 2], seed=0) == {0: [1, 2]}
    assert layers[0].weight.tolist() == [[4.0, -5.0, 2.5, -3.0]]


def test_same_sign_elects_on_full_deltas_sums_the_agreeing_ones_and_keeps_the_largest() -> None:
    layers = linear_layers(SIGN_LAYERS)
    # full sum [3, -6, 5, -2] elects [+, -, +, -]; agreeing sums: 4, -1 - 5 = -6, 2 + 3 = 5, -3 (the +1
    # disagrees); round(0.5 * 4) = 2 largest: [0, -6, 5, 0]; W0 += 0.5 * that = [0, -3, 2.5, 0]
    assert build("same_sign", density=0.5, weight=0.5).merge(layers, [1, 2], seed=0) == {0: [1, 2]}
    assert layers[0].weight.tolist() == [[0.0, -3.0, 2.5, 0.0]]


def zero_params(name: str) -> dict[str, float]:
    """The params that make ``name`` plain removal: density 0 (or scale 0 for a dense merger)."""
    fields = registry("merger").get(name).Params.model_fields
    return {key: 0.0 for key in ("density", "scale") if key in fields}


def weights_of(layers: Any) -> list[Any]:
    return [p.detach().clone() for p in layers.parameters()]


def tiny_layers(model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return decoder_layers(AutoModelForCausalLM.from_pretrained(model_dir))


@pytest.mark.parametrize("name", MERGERS.names())
def test_density_zero_is_plain_removal(tiny_model_dirs: dict[str, Path], name: str) -> None:
    import torch

    assert name == "none" or zero_params(name), f"{name}: needs a density or scale param whose 0 is plain removal"
    layers = tiny_layers(tiny_model_dirs["qwen2"])
    before = weights_of(layers)
    assert MERGERS.build(name, zero_params(name)).merge(layers, [1, 4], seed=0) in ({}, {0: [1], 3: [4]})
    assert all(torch.equal(a, b) for a, b in zip(weights_of(layers), before, strict=True))


@pytest.mark.parametrize("name", MERGERS.names())
def test_same_seed_same_merge(tiny_model_dirs: dict[str, Path], name: str) -> None:
    import torch

    merged = []
    for _ in range(2):
        layers = tiny_layers(tiny_model_dirs["llama"])
        MERGERS.build(name, {}).merge(layers, [2, 3], seed=7)
        merged.append(weights_of(layers))
    assert all(torch.equal(a, b) for a, b in zip(*merged, strict=True))


@pytest.mark.parametrize("name", ["dare", "dare_ties"])
def test_random_mergers_draw_from_the_seed(tiny_model_dirs: dict[str, Path], name: str) -> None:
    import torch

    merged = []
    for seed in (0, 1):
        layers = tiny_layers(tiny_model_dirs["llama"])
        MERGERS.build(name, {"density": 0.5}).merge(layers, [2, 3], seed=seed)
        merged.append(weights_of(layers))
    assert not all(torch.equal(a, b) for a, b in zip(*merged, strict=True))


@pytest.mark.parametrize("name", MERGERS.names())
def test_merged_checkpoint_reloads_and_generates_with_kv_cache(
    tiny_model_dirs: dict[str, Path], tmp_path: Path, name: str
) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    arch = ("llama", "qwen2", "gemma3")[MERGERS.names().index(name) % 3]
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dirs[arch]).eval()
    before = weights_of(decoder_layers(model))
    MERGERS.build(name, {}).merge(decoder_layers(model), [1, 4], seed=0)
    changed = not all(torch.equal(a, b) for a, b in zip(weights_of(decoder_layers(model)), before, strict=True))
    assert changed == (name != "none")
    remove_layers(model, [1, 4])
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert reloaded.config.num_hidden_layers == len(decoder_layers(reloaded)) == 4
    ids = torch.tensor([[1, 5, 9, 13]])
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, model(ids).logits)
    kw: dict[str, Any] = {"max_new_tokens": 4, "do_sample": False, "pad_token_id": 0}
    out = reloaded.generate(ids, use_cache=True, **kw)
    assert out.shape == (1, 8) and torch.equal(out, reloaded.generate(ids, use_cache=False, **kw))
