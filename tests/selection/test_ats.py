"""The rectified scaling law and the AtS selector: hand-computed values, a fit, and Table 1 of Lin et al. 2024.

The parity test feeds the authors' loss tables (``data/ats``, Apache-2.0, see the NOTICE there) to damoc's
selector and compares PearCorr and RelAcc with their Table 1 (``data/ats/tab1.txt``).
"""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from damoc.selection.agreement import pearson, relacc
from damoc.selection.ats import (
    AtsParams,
    RectifiedLaw,
    fit_rectified_law,
    nested_subset_sizes,
    power_phase_start,
    predict_loss_ats,
    predict_losses_ats,
    rank_by_predicted_loss,
)

DATA = Path(__file__).parent / "data" / "ats"
PAPER = AtsParams(k=3, delta=5.0)
# log D = 0..4 with log L = 2 - 0.5 log D + 0.01 * (-1)^i: a power law with small alternating noise.
SIZES = [math.exp(i) for i in range(5)]
NOISY = [math.exp(2 - 0.5 * i + 0.01 * (-1) ** i) for i in range(5)]


def test_law_at_known_parameters() -> None:
    law = RectifiedLaw(b=100.0, d_l=10.0, beta=0.5, e=1.0)
    # 100/(10+0)+1, 100/(10+10)+1, 100/(10+100)+1
    assert law.loss([0.0, 100.0, 10_000.0]) == pytest.approx([11.0, 6.0, 1.0 + 100 / 110], rel=1e-12)


def test_fit_recovers_known_parameters() -> None:
    pytest.importorskip("scipy")
    truth = RectifiedLaw(b=3000.0, d_l=200.0, beta=0.7, e=1.2)
    sizes = [0.0] + [200.0 * 2**j for j in range(14)]
    fit = fit_rectified_law(sizes, truth.loss(sizes).tolist())
    for name in ("b", "d_l", "beta", "e"):
        assert getattr(fit, name) == pytest.approx(getattr(truth, name), rel=1e-4), name


def test_stops_at_a_point_off_the_power_line() -> None:
    # Largest 3 points (log D = 2, 3, 4; log L = 1.1, 0.4, 0.1): slope -0.5, intercept 61/30,
    # residuals (1/15, -2/15, 1/15), population std sqrt(2)/15 = 0.0943; at log D = 1 the line says
    # 23/15 and log L = 23/15 + 1 is 10.6 std away > 5: stop, the power phase starts at index 2.
    losses = [math.exp(v) for v in (5.0, 23 / 15 + 1, 1.1, 0.4, 0.1)]
    assert power_phase_start(SIZES, losses, PAPER) == 2
    assert predict_loss_ats(SIZES, losses, math.exp(6), PAPER) == pytest.approx(math.exp(61 / 30 - 3), rel=1e-12)
    # 10.6 std is within delta = 11: the point is accepted and the walk goes on.
    assert power_phase_start(SIZES, losses, AtsParams(delta=11.0)) == 1


def test_accepted_smallest_point_is_left_out_as_in_the_authors_code() -> None:
    # Every point is within 5 std of the line, yet the fit uses points 1..4 only (model_select.py's loop).
    assert power_phase_start(SIZES, NOISY, PAPER) == 1
    moved = [NOISY[0] * 1.01, *NOISY[1:]]
    assert power_phase_start(SIZES, moved, PAPER) == 1
    assert predict_loss_ats(SIZES, moved, 1e4, PAPER) == predict_loss_ats(SIZES, NOISY, 1e4, PAPER)
    slope, intercept = np.polyfit(np.log(SIZES[1:]), np.log(NOISY[1:]), 1)
    assert predict_loss_ats(SIZES, NOISY, 1e4, PAPER) == pytest.approx(math.exp(intercept + slope * math.log(1e4)))


def test_k_or_fewer_points_are_all_used() -> None:
    assert power_phase_start(SIZES[:3], NOISY[:3], PAPER) == 0


def test_rank_by_predicted_loss_keeps_order_on_ties() -> None:
    assert rank_by_predicted_loss({"a": 2.0, "b": 1.0, "c": 2.0}) == ["b", "a", "c"]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        power_phase_start([4.0, 2.0, 1.0, 8.0], [1.0, 1.0, 1.0, 1.0], PAPER)
    with pytest.raises(ValueError, match="losses must be finite and > 0"):
        power_phase_start([1.0, 2.0, 4.0, 8.0], [1.0, 0.0, 1.0, 1.0], PAPER)
    with pytest.raises(ValidationError):
        AtsParams(k=1)


def test_module_does_not_import_torch() -> None:
    code = "import sys, damoc.selection.ats; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
        == "False"
    )


def _read_table1() -> dict[str, float]:
    """``"FLAN PearCorr 1/8"`` -> the AtS value in points."""
    lines = [line for line in (DATA / "tab1.txt").read_text().splitlines() if "&" in line]
    column = [c.strip() for c in lines[0].split("&")].index("FLAN-AtS")
    out = {}
    for line in lines[1:]:
        cells = [re.sub(r"\\(textbf|underline)\{([^}]*)\}", r"\2", c).strip(" \\") for c in line.split("&")]
        metric, budget = cells[0].split("-")
        for offset, dataset in enumerate(("FLAN", "WMT19", "GIGAWORD")):
            out[f"{dataset} {metric} {budget}"] = float(cells[column + 4 * offset])
    return out


@pytest.mark.parametrize("dataset", ["flan", "wmt19", "gigaword"])
def test_table1_parity(dataset: str) -> None:
    with (DATA / f"{dataset}.csv").open(newline="") as f:
        rows = {r["config name"]: {int(k): float(v) for k, v in r.items() if k.isdigit()} for r in csv.DictReader(f)}
    truth = {m: row[1638400] for m, row in rows.items()}
    paper = _read_table1()
    for ratio in (8, 16, 32, 64, 128, 256, 512):
        sizes = [200 * 2**j for j in range(20) if 200 * 2**j <= 1638400 // ratio]
        predicted = predict_losses_ats({m: [row[s] for s in sizes] for m, row in rows.items()}, sizes, 1638400, PAPER)
        pear = 100 * pearson(list(predicted.values()), list(truth.values()))
        rel = 100 * relacc({m: -v for m, v in truth.items()}, rank_by_predicted_loss(predicted)[0])
        assert pear == pytest.approx(paper[f"{dataset.upper()} PearCorr 1/{ratio}"], abs=1.0), ratio
        assert rel == pytest.approx(paper[f"{dataset.upper()} RelAcc 1/{ratio}"], abs=1.0), ratio


def test_nested_subset_sizes_fit_the_budget() -> None:
    # N = 1000: halvings 500, 250, 125, 62, 31; from 125 down 125 + 62 + 31 = 218 <= 300, from 250 it is 468.
    assert nested_subset_sizes(1000, 300, 30) == [31, 62, 125]
    assert nested_subset_sizes(1000, 10_000, 30) == [31, 62, 125, 250, 500]
    with pytest.raises(ValueError, match="budget_examples=50"):
        nested_subset_sizes(1000, 50, 30)
