"""Fidelity versus cost: does damoc's proxy pick what the ground truth picks, and how much cheaper is it?

For each bundled domain task and the three bundled models this runs ``damoc validate-selection`` on
``configs/<task>.yaml`` at several budgets (a fraction of the ground truth's training compute,
``damoc.budget``), with the ``model_size``, ``zero_shot``, ``subset_tuning``, ``data_only``, ``model_only``
and ``ats`` baselines in the same run folders (``ats`` tunes the full models on nested subsets whose
summed training compute, tokens x layers, equals the proxy's: a matched budget). The ground truth (the uncompressed models, the whole training set, ``--epochs`` epochs of
LoRA) is trained once per task and cached by content hash, so every budget and every rerun reuses
it; an interrupted fine-tune resumes from its last checkpoint. Results are written after every
(task, budget), so a killed benchmark loses nothing finished.

CPU scale (stated in the results): on 2 cores the ground truth runs one epoch; speed-ups are always
against the recipe actually run, never extrapolated.

Run:  .venv/bin/python benchmarks/fidelity.py [--tasks medical_except ...] [--budgets 0.0625 0.03125 0.015625]
                                              [--epochs 1] [--default-budget 0.03125]
      .venv/bin/python benchmarks/fidelity.py --prescreens --tasks medical_except --budgets 0.03125
                  (each zero-cost pre-screen, selection.prescreen's scorers, added as a baseline of finished cells)
      .venv/bin/python benchmarks/fidelity.py --table     (the README tables, summary then cells, from the stored results)
      .venv/bin/python benchmarks/fidelity.py --truth-only --tasks reading_comprehension [--models NAME ...]
                  (only the ground truths, the long pole; --models trains chosen candidates, e.g. one per process)
      .venv/bin/python benchmarks/fidelity.py --status [--tasks ...] [--epochs 3]
                  (where each ground truth stands in the cache: done with its scores, at step s of n, or not started)
      -> runs/fidelity/<task>/e<epochs>-b<budget>/, benchmarks/results/fidelity.json

Every finished ground truth's small files (reports, per-example predictions, no weights) are copied to
benchmarks/results/ground_truth/<cache key>/ (``truth_records``) and restored from there into an empty
cache, so a ground truth measured on one machine is not trained again on the next.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from damoc.artifacts import package_versions
from damoc.config import section_hash
from damoc.loading import load_config
from damoc.validation import validate_selection

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed_probe  # the machine's speed, so wall-time speed-ups do not mix machines
import truth_records  # finished ground truths kept in git

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fidelity.json"
TASKS = ("medical_except", "medical_qa", "financial_qa", "general_qa", "reading_comprehension")
BASELINES = "[model_size,zero_shot,subset_tuning,data_only,model_only,ats]"
ATS_TEST_EXAMPLES = 144
"""``ats``'s test loss is measured on this many eval examples: the task configs' ``sequential_max_examples``,
the most the proxies are evaluated on (cells before 2026-12-02 used the whole eval split, which on
``reading_comprehension``'s passages made ``ats`` cost more than the proxy and every other baseline)."""
SUMMARY_KEYS = (
    "top1_strict",
    "top1_tie_aware",
    "kendall_tau",
    "relacc",
    "train_speedup",
    "end_to_end_speedup",
    "token_layer_speedup",
    "proxy_leader_above_chance",
)


def overrides(
    task: str, budget: float, epochs: float, run_root: Path, label: str = "", baselines: str = BASELINES
) -> list[str]:
    """The config overrides of one benchmark cell (``baselines``: a YAML list of the baselines it runs)."""
    ats = "ats" in baselines.strip("[]").split(",")
    return [
        f"run_dir={run_root / task / f'e{epochs:g}-b{budget:g}{label}'}",
        f"budget={budget}",
        f"ground_truth.epochs={epochs}",
        f"selection.baselines={baselines}",
        *([f"selection.baseline_params={{ats: {{test_examples: {ATS_TEST_EXAMPLES}}}}}"] if ats else []),
    ]


def baselines_option(names: list[str] | None) -> str:
    """``--baselines NAME ...`` as the YAML list ``overrides`` takes; not given: all of ``BASELINES``."""
    return BASELINES if names is None else f"[{','.join(names)}]"


def cell(
    task: str, budget: float, epochs: float, run_root: Path, extra: list[str], label: str, baselines: str = BASELINES
) -> dict[str, Any]:
    """Validate one (task, budget) and summarise its validation report.

    ``baselines`` other than all of ``BASELINES`` gives a partial cell (the proxy judged first, the
    trained baselines later): a later run in the same run folder reuses the proxy's finished stages.
    """
    import os

    cfg = load_config(
        ROOT / "configs" / f"{task}.yaml", overrides(task, budget, epochs, run_root, label, baselines) + extra
    )
    before = restore_truths(cfg)
    keys = {name: row["key"] for name, row in before.items()}
    start = time.time()
    load_before = os.getloadavg()[0]
    probes = [speed_probe.probe()]
    log_segments(task, epochs, before, None, probes)
    report = validate_selection(cfg)
    probes.append(speed_probe.probe())
    log_segments(task, epochs, before, job_states(cfg), probes)
    record_truths(cfg, keys)
    ranking = json.loads((Path(cfg.run_dir) / "ranking.json").read_text(encoding="utf-8"))
    agreement = report.agreement or {}
    truth = {c.candidate: c.truth.model_dump() for c in report.candidates}
    return {
        "config_hash": section_hash(cfg),
        "proxy_steps": cfg.training.max_steps,
        "proxy_keep_ratio": keep_ratio(cfg),
        "truth_order": report.truth_order,
        "truth_scores": truth,
        "truth_tie_group": report.truth_tie_group,
        "proxy_order": report.proxy_order,
        "pick": report.top1.pick,
        "fallback": ranking.get("fallback"),
        "top1_strict": report.top1.strict,
        "top1_tie_aware": report.top1.tie_aware,
        "kendall_tau": agreement.get("kendall_tau"),
        "spearman": agreement.get("spearman"),
        "relacc": report.top1.relacc,
        "train_speedup": report.costs.speedup_train,
        "end_to_end_speedup": report.costs.speedup_end_to_end,
        "token_layer_speedup": report.costs.speedup_token_layers,
        "baselines": {b.source: b.model_dump() for b in report.baselines},
        "baseline_token_layers": baseline_token_layers(ranking),
        "proxy_leader_above_chance": leader_above_chance(ranking),
        "costs": report.costs.model_dump(),
        "truth_keys": keys,
        "seconds": round(time.time() - start, 1),
        "overrides": extra,
        "baselines_run": baselines,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "speed": speed_probe.verdict(probes, keys),
    }


def keep_ratio(cfg: Any) -> float | None:
    """The keep ratio of the first data step that has one (the budget sets it), else None."""
    return next((s.params.get("keep_ratio") for s in cfg.data.steps if "keep_ratio" in s.params), None)


def truth_keys(cfg: Any) -> dict[str, str]:
    """Each candidate's ground-truth cache key (weights, data, recipe, scoring, seed): which ground truth a cell has."""
    from damoc.context import StageContext
    from damoc.validation.stage import load_task
    from damoc.validation.truth import build_job

    ctx = StageContext.from_config(cfg, None)
    train, evals = load_task(cfg)
    return {spec.name: build_job(cfg, spec, train, evals, ctx).key for spec in cfg.candidates}


def restore_truths(cfg: Any) -> dict[str, dict[str, Any]]:
    """Each candidate's ground-truth key and state (``job_states``), recorded ones put back into an empty cache."""
    states = job_states(cfg)
    for name, row in states.items():
        if row["state"] == "done":
            print(
                f"{name}: ground truth {row['key']} is finished (cache or benchmarks/results/ground_truth)", flush=True
            )
    return states


def record_truths(cfg: Any, keys: dict[str, str]) -> None:
    """Copy every finished ground truth among ``keys`` into ``benchmarks/results/ground_truth/``."""
    from damoc.validation.cache import cache_root

    for key in keys.values():
        truth_records.save_record(cache_root(cfg.cache_dir) / key, key)


def baseline_token_layers(ranking: dict[str, Any]) -> dict[str, int]:
    """Training tokens x layers of each baseline in ``ranking.json`` that reports its cost (``ats``: all subsets, all candidates)."""
    out = {}
    for b in ranking["baselines"]:
        costs = [d["token_layers"] for d in b["details"].values() if isinstance(d, dict) and "token_layers" in d]
        if costs:
            out[b["baseline"]] = sum(costs)
    return out


def leader_above_chance(ranking: dict[str, Any]) -> bool | None:
    """Whether the proxy's leader scored above guessing (its paired interval against chance above 0).

    A pick by a leader that is not is luck, whatever the ground truth says (``ranking.json``'s
    ``above_chance``; None where chance is not defined, e.g. generation tasks).
    """
    if ranking.get("chance") is None:
        return None
    leader = min(ranking["candidates"], key=lambda c: c["rank"])["candidate"]
    return leader in ranking["above_chance"]


def truth_config(task: str, epochs: float, run_root: Path, curve: list[float] | None, sets: list[str]) -> Any:
    """The config a task's ground truths are trained from (``truth_only``) and looked up by (``truth_status``)."""
    # `--curve` alone (an empty list) keeps the config's fractions; it never turns the curve off
    extra = [f"ground_truth.curve_fractions=[{','.join(f'{c:g}' for c in curve)}]"] if curve else []
    return load_config(ROOT / "configs" / f"{task}.yaml", overrides(task, 0.0625, epochs, run_root) + extra + sets)


def truth_only(
    task: str, epochs: float, run_root: Path, curve: list[float] | None, models: list[str], sets: list[str]
) -> None:
    """Train (or find in the cache) one task's ground truths, without the proxy: the long pole, run first.

    ``models`` (empty: all) picks candidates by name, so two processes can train two of them side by side;
    ``sets`` are config overrides of settings outside the cache key (e.g. ``ground_truth.curve_fractions=[]``).
    """
    from damoc.context import StageContext
    from damoc.validation.stage import ground_truth, load_task

    cfg = truth_config(task, epochs, run_root, curve, sets)
    ctx = StageContext.from_config(cfg, None)
    train, evals = load_task(cfg)
    unknown = sorted(set(models) - {spec.name for spec in cfg.candidates})
    if unknown:
        raise SystemExit(f"--models: {unknown} are not candidates of configs/{task}.yaml")
    keys = {name: row["key"] for name, row in restore_truths(cfg).items()}
    for spec in cfg.candidates:
        if models and spec.name not in models:
            continue
        start = time.time()
        before, probes = job_states(cfg, [spec.name]), [speed_probe.probe()]
        log_segments(task, epochs, before, None, probes)
        truth = ground_truth(cfg, spec, train, evals, ctx)
        probes.append(speed_probe.probe())
        log_segments(task, epochs, before, job_states(cfg, [spec.name]), probes)
        record_truths(cfg, {spec.name: keys[spec.name]})
        print(f"{task} {spec.name}: ground truth {truth.evaluation.metrics} in {time.time() - start:.0f} s", flush=True)


def entry_status(entry: Path, key: str, total_steps: int) -> dict[str, Any]:
    """Where one ground truth stands in its cache entry: done (its metrics), at a checkpoint, or not started."""
    from damoc.artifacts import is_done
    from damoc.reports import EVAL_REPORT
    from damoc.validation.base import RESULT_DIR, GroundTruthTrainReport
    from damoc.validation.checkpoint import find_checkpoint, read_state

    result = entry / RESULT_DIR
    if is_done(result, key):
        evaluation = json.loads((result / EVAL_REPORT).read_text())
        train = json.loads((result / GroundTruthTrainReport.file_name).read_text())
        return {"state": "done", "steps": total_steps, "metrics": evaluation["metrics"],
                "train_seconds": train["seconds"], "eval_seconds": evaluation["seconds"]}  # fmt: skip
    found = find_checkpoint(entry, key)
    state = read_state(found) if found is not None else None
    if state is None:
        return {"state": "not started", "step": 0, "steps": total_steps}
    label = "trained, evaluation left" if state.step >= total_steps else "training"
    return {"state": label, "step": state.step, "steps": total_steps, "train_seconds": state.train_seconds}


def truth_status(task: str, epochs: float, run_root: Path, sets: list[str]) -> list[dict[str, Any]]:
    """Each candidate's ground truth of one task, looked up in the cache by its key (nothing is trained;
    a recorded ground truth missing from the cache is restored into it first)."""
    cfg = truth_config(task, epochs, run_root, None, sets)
    return [{"task": task, "epochs": epochs} | row for row in job_states(cfg).values()]


def job_states(cfg: Any, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Each candidate's (``names``: only these) ground-truth key and state in the cache (``entry_status``)."""
    from damoc.context import StageContext
    from damoc.validation.cache import cache_root
    from damoc.validation.recipe import plan_epochs
    from damoc.validation.stage import load_task
    from damoc.validation.truth import build_job

    ctx = StageContext.from_config(cfg, None)
    train, evals = load_task(cfg)
    rows = {}
    for spec in cfg.candidates:
        if names is not None and spec.name not in names:
            continue
        job = build_job(cfg, spec, train, evals, ctx)
        steps = len(plan_epochs(len(train), job.recipe, ctx.seed).steps)
        entry = cache_root(cfg.cache_dir) / job.key
        truth_records.restore(entry, job.key)  # a recorded one counts as done
        rows[spec.name] = {"candidate": spec.name, "key": job.key} | entry_status(entry, job.key, steps)
    return rows


def log_segments(
    task: str,
    epochs: float,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]] | None,
    probes: list[float],
) -> None:
    """Log the ground truths this process is about to train (``after`` None: each one not done, event
    "start", so a process killed mid-training leaves its probe) or has moved (event "end")."""
    for name, old in before.items():
        row = old if after is None else after[name]
        if after is None and old["state"] == "done":
            continue
        if after is not None and (old["state"], old.get("step")) == (row["state"], row.get("step")):
            continue  # untouched here (finished before, or not this process's)
        moved = {} if after is None else {  # a start row has no "after" yet
            "state_after": row["state"], "step_after": row.get("step", row["steps"]),
            "train_seconds_after": row.get("train_seconds"),
        }  # fmt: skip
        speed_probe.log_segment(
            {
                "event": "start" if after is None else "end",
                "key": row["key"], "task": task, "epochs": epochs, "candidate": name, "steps": row["steps"],
                "state_before": old["state"], "step_before": old.get("step", 0),
                "train_seconds_before": old.get("train_seconds", 0.0),
            } | moved | {"probes_s": probes}
            | {k: v for k, v in speed_probe.machine(probes[-1]).items() if k != "probe_s"}
        )  # fmt: skip


def cell_key(task: str, epochs: float, label: str = "") -> str:
    """The key of a task's entry in ``fidelity.json``: ``task``, ``task@3ep`` for other ground-truth epochs, then
    ``+label`` for a variant of the recipe."""
    return f"{task}{label}" if epochs == 1 else f"{task}@{epochs:g}ep{label}"


def status_line(row: dict[str, Any]) -> str:
    """One ground truth's state as a line of ``--status``."""
    head = f"{row['task']} ({row['epochs']:g} ep) {row['candidate']} [{row['key']}]: {row['state']}"
    if row["state"] == "done":
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in row["metrics"].items())
        return f"{head}: {metrics} ({row['train_seconds']:.0f} s training, {row['eval_seconds']:.0f} s evaluation)"
    if row["state"] == "not started":
        return f"{head} (0 of {row['steps']} steps)"
    done, left = row["train_seconds"], row["steps"] - row["step"]
    pace = (
        f"; {done / row['step']:.1f} s a step, about {left * done / row['step'] / 60:.0f} min left"
        if row["step"]
        else ""
    )
    return f"{head}: step {row['step']} of {row['steps']} ({done:.0f} s of training so far{pace})"


PRESCREENS = ("perplexity", "zero_shot", "logme")


def prescreen_columns(
    task: str, budget: float, epochs: float, run_root: Path, label: str, num_samples: int, stored: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Each zero-cost pre-screen as a baseline of a finished cell: its pick against the cell's ground truth.

    Every candidate, untuned and uncompressed, scores the same seeded sample of the cell's training file
    (``damoc.prescreen.score_candidate``, as ``selection.prescreen`` does); reports are kept under
    ``<run_dir>/prescreen_bench/<method>/<candidate>`` so a rerun only reads them. The ground truth is
    the stored cell's (``stored``: its scores and tie group), so a cell re-judged by ``rejudge.py``,
    whose run folder has no ``validation.json``, gets its pre-screens too; a cell whose run folder is
    gone gets its data stage run again (seeded, so the same kept examples).
    """
    from damoc.artifacts import RunLayout
    from damoc.config import PrescreenConfig
    from damoc.context import StageContext
    from damoc.prescreen import score_candidate
    from damoc.reports import PrescreenReport, read_stage_report
    from damoc.validation.compare import pick_check

    cfg = load_config(ROOT / "configs" / f"{task}.yaml", overrides(task, budget, epochs, run_root, label))
    layout = RunLayout(cfg.run_dir)
    if not layout.train_file.is_file():  # a cell whose run folder was lost: its data stage again (seeded)
        from damoc.pipeline import run

        print(f"{task}: {layout.train_file} is missing; running the cell's data stage", flush=True)
        run(cfg, stages=("data",))
    truth = {name: score["point"] for name, score in stored["truth_scores"].items()}
    ctx = StageContext.from_config(cfg, None)
    out: dict[str, dict[str, Any]] = {}
    for method in PRESCREENS:
        p = PrescreenConfig(method=method, keep=1, num_samples=num_samples)
        scores, seconds = {}, 0.0
        try:
            for spec in cfg.candidates:
                folder = layout.root / "prescreen_bench" / method / spec.name
                if not (folder / PrescreenReport.file_name).is_file():
                    folder.mkdir(parents=True, exist_ok=True)
                    score_candidate(cfg, p, spec.name, layout.train_file, folder, ctx)
                report = read_stage_report(folder, PrescreenReport)
                scores[spec.name], seconds = report.score, seconds + report.seconds
        except Exception as exc:  # e.g. logme on a task that is not classification-shaped
            out[f"prescreen:{method}"] = {"source": f"prescreen:{method}", "error": f"{type(exc).__name__}: {exc}"}
            continue
        order = sorted(scores, key=lambda n: -scores[n])
        pick = order[0]
        out[f"prescreen:{method}"] = {
            **pick_check(f"prescreen:{method}", pick, truth, stored["truth_tie_group"]).model_dump(),
            "order": order,
            "scores": scores,
            "num_samples": num_samples,
            "seconds": round(seconds, 1),
        }
        print(f"{task} prescreen {method}: {' > '.join(order)} (truth {' > '.join(stored['truth_order'])})")
    return out


def load_results() -> dict[str, Any]:
    return json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {"tasks": {}}


def save(results: dict[str, Any], default_budget: float) -> None:
    """Write the results with the per-task summary of the default budget (atomic rename)."""
    results["machine"] = {"platform": platform.platform(), "processor": platform.processor(), "cpus": _cpus()}
    results["versions"] = package_versions()
    results["default_budget"] = default_budget
    results["summary"] = {
        task: {k: cells[str(default_budget)].get(k) for k in SUMMARY_KEYS}
        for task, entry in results["tasks"].items()
        if str(default_budget) in (cells := entry["budgets"]) and "+" not in task and "@" not in task
    }  # the default recipe only; variants ('+label') and other ground-truth epochs ('@3ep') keep their cells
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    tmp.replace(RESULTS)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


CROSS_MACHINE = (
    "† the proxy and the ground truth ran at machine speeds more than "
    f"{speed_probe.TOLERANCE:.0%} apart (speed_probe.py): this wall-time speed-up mixes machines; tokens x layers does not"
)


def _wall(c: dict[str, Any], x: float | None) -> str:
    """A wall-time speed-up, marked † when the cell's speed probes say its two sides ran at different speeds."""
    return f"{_f(x, 1)}x" + ("†" if c.get("speed", {}).get("comparable") is False else "")


def _footnote(cells: list[dict[str, Any]]) -> list[str]:
    return ["", CROSS_MACHINE] if any(c.get("speed", {}).get("comparable") is False for c in cells) else []


def summary_table(results: dict[str, Any]) -> str:
    """The bar at a glance: per task, damoc's default recipe at the default budget against the ground truth.

    The last row counts tie-aware hits over the tasks measured, and those made by a leader above guessing.
    """
    budget = str(results.get("default_budget", 0.03125))
    lines = [
        f"| task | ground truth best (tie group) | damoc's pick at 1/{1 / float(budget):g} | tie-aware hit | "
        "leader above guessing | tokens x layers saved | training time saved | end-to-end time saved |",
        "|---|---|---|---|---|---|---|---|",
    ]
    hits = clear = 0
    for task, s in results.get("summary", {}).items():
        c = results["tasks"][task]["budgets"][budget]
        above = s.get("proxy_leader_above_chance")
        hits += bool(s["top1_tie_aware"])
        clear += bool(s["top1_tie_aware"]) and above is True  # not recorded (older cells) does not count
        tie = ", ".join(n.split("-")[0] for n in c["truth_tie_group"])
        lines.append(
            f"| {task} | {tie} | {pick_of(c)} | {'yes' if s['top1_tie_aware'] else 'no'} "
            f"| {'-' if above is None else 'yes' if above else 'no'} | {_f(s.get('token_layer_speedup'), 1)}x "
            f"| {_wall(c, s['train_speedup'])} | {_wall(c, s['end_to_end_speedup'])} |"
        )
    n = len(results.get("summary", {}))
    lines.append(
        f"| **{n} of {len(TASKS)} tasks measured** | | | **{hits} of {n}** ({clear} with the leader measured above guessing) | | | | |"
    )
    cells = [results["tasks"][task]["budgets"][budget] for task in results.get("summary", {})]
    return "\n".join(lines + _footnote(cells))


def pick_of(cell: dict[str, Any]) -> str:
    """A cell's pick, short; "(fallback)" when ``selection.fallback`` made it (no proxy above guessing)."""
    pick = cell.get("pick", cell["proxy_order"][0]).split("-")[0]
    return f"{pick} (fallback)" if cell.get("fallback") else pick


PICK_COLUMNS = (
    "model_size", "zero_shot", "subset_tuning", "data_only", "model_only", "ats",
    "prescreen:perplexity", "prescreen:zero_shot", "prescreen:logme",
)  # fmt: skip


def picks_table(results: dict[str, Any]) -> str:
    """Every method's pick at the default budget, one column each, with its tie-aware hits over the tasks."""
    budget = str(results.get("default_budget", 0.03125))
    lines = [
        "| task | damoc | " + " | ".join(PICK_COLUMNS) + " |",
        "|---|---|" + "---|" * len(PICK_COLUMNS),
    ]
    hits = dict.fromkeys(["damoc", *PICK_COLUMNS], 0)
    seen = dict.fromkeys(hits, 0)
    for task in results.get("summary", {}):
        c = results["tasks"][task]["budgets"][budget]
        picks = {"damoc": (c.get("pick", c["proxy_order"][0]), c["top1_tie_aware"])}
        picks |= {b: (v["pick"], v["tie_aware"]) for b, v in c["baselines"].items() if b in PICK_COLUMNS}
        marks = []
        for method in hits:
            if method not in picks:
                marks.append("-")
                continue
            pick, hit = picks[method]
            seen[method] += 1
            hits[method] += bool(hit)
            marks.append(f"{pick.split('-')[0]} {'yes' if hit else 'no'}")
        lines.append(f"| {task} | " + " | ".join(marks) + " |")
    lines.append("| **tie-aware hits** | " + " | ".join(f"**{hits[m]} of {seen[m]}**" for m in hits) + " |")
    return "\n".join(lines)


def markdown_table(results: dict[str, Any]) -> str:
    """The README table: per task and budget, orders, agreement, picks and speed-ups."""
    lines = [
        "| task | GT epochs | budget | ground truth (95% CI) | damoc order | tau | RelAcc | top-1 strict / tie-aware "
        "| baselines' picks (tie-aware hit) | train speed-up | end-to-end speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, entry in results["tasks"].items():
        for budget, c in sorted(entry["budgets"].items(), key=lambda kv: -float(kv[0])):
            truth = ", ".join(
                f"{n} {c['truth_scores'][n]['point']:.3f} ({c['truth_scores'][n]['low']:.3f}-{c['truth_scores'][n]['high']:.3f})"
                for n in c["truth_order"]
            )
            picks = "; ".join(
                f"{b}: {v['pick']} ({'yes' if v['tie_aware'] else 'no'})"
                for b, v in c["baselines"].items()
                if "pick" in v
            )
            luck = " (leader at chance)" if c.get("proxy_leader_above_chance") is False else ""
            lines.append(
                f"| {task} | {entry['epochs']:g} | 1/{1 / float(budget):g} | {truth} | {' > '.join(c['proxy_order'])} "
                f"| {_f(c['kendall_tau'])} | {_f(c['relacc'])} | {'yes' if c['top1_strict'] else 'no'} / "
                f"{'yes' if c['top1_tie_aware'] else 'no'}{luck} | {picks} | {_wall(c, c['train_speedup'])} "
                f"| {_wall(c, c['end_to_end_speedup'])} |"
            )
    cells = [c for entry in results["tasks"].values() for c in entry["budgets"].values()]
    return "\n".join(lines + _footnote(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--budgets", nargs="+", type=float, default=[0.0625, 0.03125, 0.015625])
    parser.add_argument("--default-budget", type=float, default=0.03125)
    parser.add_argument(
        "--epochs", type=float, default=1.0, help="ground-truth epochs (3 is the recipe; 1 at CPU scale)"
    )
    parser.add_argument("--run-root", type=Path, default=ROOT / "runs" / "fidelity")
    parser.add_argument("--table", action="store_true", help="print the README table from the stored results")
    parser.add_argument("--truth-only", action="store_true", help="only train the ground truths (cached for later)")
    parser.add_argument(
        "--status", action="store_true", help="where each ground truth stands in the cache (done, step, not started)"
    )
    parser.add_argument("--models", nargs="*", default=[], help="with --truth-only: only these candidates")
    parser.add_argument(
        "--curve", nargs="*", type=float, help="ground-truth curve fractions (none given: the config's)"
    )
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides: a variant of the recipe")
    parser.add_argument("--label", default="", help="name of the variant (results under '<task>+<label>')")
    parser.add_argument(
        "--prescreens", action="store_true", help="add each zero-cost pre-screen to the finished cells as a baseline"
    )
    parser.add_argument("--prescreen-samples", type=int, default=64, help="training examples each pre-screen scores")
    parser.add_argument(
        "--baselines",
        nargs="*",
        default=None,
        help="run only these baselines (default: all); a later run without it completes the cell, reusing the proxy",
    )
    args = parser.parse_args()
    if args.status:
        for task in args.tasks:
            for row in truth_status(task, args.epochs, args.run_root, args.set):
                print(status_line(row), flush=True)
        return
    if args.truth_only:
        for task in args.tasks:
            truth_only(task, args.epochs, args.run_root, args.curve, args.models, args.set)
        return
    results = load_results()
    if args.table:
        print(summary_table(results), "", picks_table(results), "", markdown_table(results), sep="\n")
        return
    label = f"+{args.label}" if args.label else ""
    baselines = baselines_option(args.baselines)
    if args.prescreens:
        for task in args.tasks:
            key = cell_key(task, args.epochs, label)
            for budget in args.budgets:
                c = results["tasks"].get(key, {}).get("budgets", {}).get(str(budget))
                if c is not None:
                    c["baselines"].update(
                        prescreen_columns(task, budget, args.epochs, args.run_root, label, args.prescreen_samples, c)
                    )
                    save(results, args.default_budget)
        return
    for task in args.tasks:
        key = cell_key(task, args.epochs, label)
        entry = results["tasks"].setdefault(key, {"epochs": args.epochs, "budgets": {}, "overrides": args.set})
        for budget in args.budgets:
            entry["budgets"][str(budget)] = cell(task, budget, args.epochs, args.run_root, args.set, label, baselines)
            save(results, args.default_budget)
            print(f"{task} budget {budget:g}: {json.dumps(entry['budgets'][str(budget)]['proxy_order'])}", flush=True)


if __name__ == "__main__":
    main()
