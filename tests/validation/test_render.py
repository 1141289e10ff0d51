"""The report's validation section, rendered from a hand-made validation.json (no model needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from damoc.reports import write_stage_report
from damoc.selection.base import BaselineResult, CandidateResult, Ranking
from damoc.validation.base import (
    CandidateValidation,
    Costs,
    CurvePoint,
    Difference,
    PickCheck,
    Score,
    ValidationReport,
)
from damoc.validation.render import render_validation_html, render_validation_markdown


def _candidate(name: str, rank: int, point: float, curve: list[tuple[int, float, float]]) -> CandidateValidation:
    return CandidateValidation(
        candidate=name, proxy_rank=rank, proxy_score=point - 0.1, truth_rank=rank,
        truth=Score(point=point, low=point - 0.05, high=point + 0.05), truth_metrics={"acc": point},
        in_truth_tie_group=rank == 1,
        curve=[CurvePoint(step=s, epoch=e, metrics={"acc": a}, seconds=1.0) for s, e, a in curve],
        proxy_seconds={"model": 1.0, "train": 2.0, "eval": 1.0}, truth_seconds={"train": 40.0, "eval": 2.0},
        proxy_token_layers=100, truth_token_layers=2000, cache_entry="/cache/ground_truth/abc",
    )  # fmt: skip


def report(agreement: dict[str, float] | None = None) -> ValidationReport:
    a = _candidate("big<model>", 1, 0.8, [(2, 0.125, 0.5), (16, 1.0, 0.8)])
    b = _candidate("small", 2, 0.6, [(2, 0.125, 0.4), (16, 1.0, 0.6), (32, 2.0, 0.61)])
    return ValidationReport(
        rank_by="acc", eval_examples=100, train_examples=128,
        ground_truth={"method": "lora", "epochs": 2.0, "learning_rate": 2e-4},
        proxy_order=["big<model>", "small"], truth_order=["big<model>", "small"], candidates=[a, b],
        truth_tie_group=["big<model>"],
        adjacent=[Difference(upper="big<model>", lower="small", difference=Score(point=0.2, low=0.1, high=0.3))],
        agreement=agreement, top1=PickCheck(source="proxy", pick="big<model>", strict=True, tie_aware=True, relacc=1),
        baselines=[PickCheck(source="model_size", pick="small", strict=False, tie_aware=False, relacc=0.0)],
        costs=Costs(proxy_seconds={"data": 1, "model": 2, "train": 4, "eval": 2, "total": 9},
                    truth_seconds={"train": 80, "eval": 4, "total": 84}, proxy_token_layers=200,
                    truth_token_layers=4000, speedup_train=20.0, speedup_end_to_end=9.33, speedup_token_layers=20.0),
    )  # fmt: skip


def test_markdown_section() -> None:
    md = render_validation_markdown(report({"kendall_tau": 1.0, "spearman": 1.0, "pearson": 1.0, "relacc": 1.0}))
    assert md.startswith("## Validation: proxy vs ground truth")
    assert "| big<model> | 1 | 0.700 | 1 | 0.800 (0.750 to 0.850) | yes |" in md
    assert "Kendall tau 1.000, Spearman 1.000, Pearson 1.000, RelAcc 1.000." in md
    assert "big<model> leads the others beyond noise." in md
    tied = report(None).model_copy(update={"truth_tie_group": ["big<model>", "small"]})
    assert "Statistically tied for first: big<model>, small." in render_validation_markdown(tied)
    assert "| model_size | small | no | no | 0.000 |" in md
    assert "training 20.0x, end to end 9.3x, training tokens x layers 20.0x" in md
    assert "| candidate | 0.125 ep | 1 ep | 2 ep |" in md  # the learning curves, candidate x fraction
    assert "| big<model> | 0.500 | 0.800 | - |" in md and "| small | 0.400 | 0.600 | 0.610 |" in md


def test_one_candidate_has_no_agreement_line() -> None:
    assert "One candidate: no rank agreement to measure." in render_validation_markdown(report(None))


def test_html_section_escapes_names() -> None:
    page = render_validation_html(report(None))
    assert "<h2>Validation: proxy vs ground truth</h2>" in page
    assert "big&lt;model&gt;" in page and "big<model>" not in page


def test_write_report_adds_the_section_only_with_validation_json(tmp_path: Path) -> None:
    from damoc.artifacts import write_json_atomic
    from damoc.report import write_report

    ranking = Ranking(
        rank_by="acc",
        candidates=[CandidateResult(candidate="big<model>", rank=1, score=0.7, metrics={"acc": 0.7}),
                    CandidateResult(candidate="small", rank=2, score=0.5, metrics={"acc": 0.5})],
        baselines=[BaselineResult(baseline="model_size", scores={"big<model>": 1, "small": 2},
                                  order=["small", "big<model>"], picks_same_top=False)],
    )  # fmt: skip
    write_json_atomic(tmp_path / "ranking.json", ranking.model_dump(mode="json"))
    md, page = write_report(tmp_path)
    assert "Validation" not in md.read_text() and "Validation" not in page.read_text()
    write_stage_report(tmp_path, report(None))
    md, page = write_report(tmp_path)
    assert "## Validation: proxy vs ground truth" in md.read_text()
    assert page.read_text().rstrip().endswith("</table></body></html>")


def test_validation_package_imports_no_torch() -> None:
    code = (
        "import sys, damoc.validation, damoc.validation.render, damoc.validation.compare\n"
        "print(','.join(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == ""
