"""The ``damoc`` command: a thin shell over the library (parse, load config, call one function, print)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from damoc.errors import DamocError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Pick the open LLM to fine-tune, cheaply.")
models_app = typer.Typer(no_args_is_help=True, help="Bundled pretrained models.")
tasks_app = typer.Typer(no_args_is_help=True, help="Bundled tasks, and checking your own task data.")
app.add_typer(models_app, name="models")
app.add_typer(tasks_app, name="tasks")

ConfigArg = Annotated[Path, typer.Argument(help="run config (YAML)")]
OverridesArg = Annotated[list[str] | None, typer.Argument(help="overrides: key.sub=value ...")]
CandidateOpt = Annotated[list[str] | None, typer.Option("--candidate", "-c", help="only this candidate")]


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    from damoc.candidates.bundled import default_cache_dir

    # torch's compiler cache would otherwise land in $TMPDIR: keep damoc's writes in the cache folder
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(default_cache_dir() / "torchinductor"))
    if not verbose:
        # our own progress bars replace the libraries' tqdm bars and advisory warnings
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\b")

    handler = RichHandler(console=_console(), show_path=False, show_time=False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], format="%(message)s")
    for noisy in ("httpx", "urllib3", "filelock", "transformers", "datasets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextlib.contextmanager
def _progress_bars() -> Iterator[Any]:
    """A ProgressFn that draws one rich bar per step description."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bars: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=_console()
    ) as progress:

        def update(description: str, done: int, total: int) -> None:
            if description not in bars:
                bars[description] = progress.add_task(description, total=total)
            progress.update(bars[description], completed=done, total=total)

        yield update


def _load(config: Path, overrides: list[str] | None) -> Any:
    from damoc.loading import load_config

    return load_config(config, overrides or [])


def _print_ranking(ranking: Any, run_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from damoc.report.write import failure_lines, pick_sentence, ranking_table, verdict

    header, rows = ranking_table(ranking)
    table = Table(title=f"damoc ranking by {ranking.rank_by}")
    for h in header:
        table.add_column(h, justify="left" if h == "candidate" else "right")
    for r in rows:
        table.add_row(*r)
    # a pipe or log file gets the full table instead of rich's 80-column default
    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(table)
    for b in ranking.baselines:
        console.print(f"baseline {b.baseline}: {' > '.join(b.order)} (same top pick: {b.picks_same_top})")
    console.print(verdict(ranking), markup=False)
    for line in failure_lines(ranking):
        console.print(line, markup=False, style="red")
    if ranking.fallback is None:
        head = f"best: [bold]{ranking.best}[/bold]"
    else:
        console.print(pick_sentence(ranking), markup=False)
        head = f"pick: [bold]{ranking.pick}[/bold] (selection.fallback: {ranking.fallback.method})"
    console.print(f"{head}; outputs in {run_dir}/ (ranking.json, report.md, report.html)")


def _run_stages(
    config: Path, overrides: list[str] | None, stages: tuple[str, ...], candidates: list[str] | None
) -> None:
    from damoc.pipeline import run

    cfg = _load(config, overrides)
    with _progress_bars() as progress:
        ranking = run(cfg, stages=stages, candidates=candidates, progress=progress)  # type: ignore[arg-type]
    if ranking is not None:
        _print_ranking(ranking, cfg.run_dir)
    else:
        typer.echo(f"done: {', '.join(stages)}; outputs in {cfg.run_dir}/")


@app.command("run")
def run_cmd(config: ConfigArg, overrides: OverridesArg = None) -> None:
    """Run the whole pipeline (resumes finished stages)."""
    _run_stages(config, overrides, ("data", "model", "train", "evaluate", "rank"), None)


@app.command("data")
def data_cmd(config: ConfigArg, overrides: OverridesArg = None) -> None:
    """Stage 1 only: compress the training data."""
    _run_stages(config, overrides, ("data",), None)


@app.command("model")
def model_cmd(config: ConfigArg, overrides: OverridesArg = None, candidate: CandidateOpt = None) -> None:
    """Stage 2 only: build the compressed proxy of each candidate."""
    _run_stages(config, overrides, ("model",), candidate)


@app.command("train")
def train_cmd(config: ConfigArg, overrides: OverridesArg = None, candidate: CandidateOpt = None) -> None:
    """Stage 3 only: fine-tune each proxy."""
    _run_stages(config, overrides, ("train",), candidate)


@app.command("evaluate")
def evaluate_cmd(config: ConfigArg, overrides: OverridesArg = None, candidate: CandidateOpt = None) -> None:
    """Stage 4 only: evaluate each fine-tuned proxy."""
    _run_stages(config, overrides, ("evaluate",), candidate)


@app.command("rank")
def rank_cmd(config: ConfigArg, overrides: OverridesArg = None) -> None:
    """Stage 5 only: rank the candidates and write the reports."""
    _run_stages(config, overrides, ("rank",), None)


@app.command("validate-selection")
def validate_selection_cmd(config: ConfigArg, overrides: OverridesArg = None) -> None:
    """Fine-tune every full candidate on the whole training set and compare with the proxy ranking."""
    from damoc.validation import validate_selection

    cfg = _load(config, overrides)
    with _progress_bars() as progress:
        report = validate_selection(cfg, progress=progress)
    hit = "hits" if report.top1.strict else ("ties" if report.top1.tie_aware else "misses")
    typer.echo(f"ground truth: {' > '.join(report.truth_order)}; damoc's pick {report.top1.pick} {hit}")
    typer.echo(f"outputs in {cfg.run_dir}/ (validation.json, validation/, report.md, report.html)")


@app.command("validate")
def validate_cmd(
    config: ConfigArg,
    overrides: OverridesArg = None,
    print_: Annotated[bool, typer.Option("--print", help="print the resolved config")] = False,
) -> None:
    """Check the config and every method name and parameter; runs nothing."""
    from damoc.loading import dump_config

    cfg = _load(config, overrides)
    if print_:
        typer.echo(dump_config(cfg), nl=False)
    typer.echo(f"{config}: ok ({len(cfg.candidates)} candidates, task {cfg.task.bundled or cfg.task.type})", err=True)


@app.command("ls")
def ls_cmd(
    kind: Annotated[str | None, typer.Argument(help="filter, scorer, merger, metric, models, ...")] = None,
) -> None:
    """List registered methods (one line each) and bundled models."""
    from damoc.registry import KINDS, registry

    kinds = [kind] if kind else [*KINDS, "models"]
    for k in kinds:
        if k == "models":
            from damoc.candidates.bundled import bundled_models

            typer.echo("models:")
            for alias, info in bundled_models().items():
                typer.echo(
                    f"  {alias:<22} {info.get('upstream', '')} ({info.get('architecture', '')}, {info.get('license', '')})"
                )
            continue
        typer.echo(f"{k}:")
        for name, doc in registry(k).describe().items():
            typer.echo(f"  {name:<22} {doc}")


@app.command("report")
def report_cmd(run_dir: Annotated[Path, typer.Argument(help="a run folder")]) -> None:
    """(Re)write report.md and report.html of a finished run."""
    from damoc.report import write_report

    for p in write_report(run_dir):
        typer.echo(str(p))


@models_app.command("prepare")
def models_prepare_cmd(
    aliases: Annotated[list[str] | None, typer.Argument(help="bundled aliases (default: all)")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="default: $DAMOC_CACHE or ~/.cache/damoc")] = None,
) -> None:
    """Convert bundled GGUF models into cached safetensors checkpoints (once)."""
    from damoc.candidates.bundled import bundled_models, prepare_models

    with _progress_bars() as progress:
        done = prepare_models(list(aliases or bundled_models()), cache_dir, progress)
    for alias, path in done.items():
        typer.echo(f"{alias}: {path}")


@tasks_app.command("ls")
def tasks_ls_cmd() -> None:
    """List the bundled tasks."""
    from damoc.tasks.load import bundled_task_card, bundled_task_names

    for name in bundled_task_names():
        card = bundled_task_card(name)
        sizes = card.get("sizes", {})
        typer.echo(
            f"{name:<24} {card['type']:<16} train {sizes.get('train')}, eval {sizes.get('eval')}  {card.get('licence')}"
        )


@tasks_app.command("show")
def tasks_show_cmd(name: str) -> None:
    """Print a bundled task's card."""
    import yaml

    from damoc.tasks.load import bundled_task_card

    typer.echo(yaml.safe_dump(bundled_task_card(name), sort_keys=False), nl=False)


@tasks_app.command("export")
def tasks_export_cmd(name: str, out_dir: Path) -> None:
    """Write a bundled task's train/eval splits as JSONL into OUT_DIR."""
    from damoc.tasks.load import export_bundled_task

    for p in export_bundled_task(name, out_dir):
        typer.echo(str(p))


@app.command("export-lm-eval")
def export_lm_eval_cmd(
    config: ConfigArg,
    out_dir: Annotated[Path, typer.Argument(help="folder for the task YAML and JSONL")],
    overrides: OverridesArg = None,
    candidate: Annotated[str | None, typer.Option("--candidate", "-c", help="tokenizer for a chat template")] = None,
) -> None:
    """Write the run's eval split and prompts as an lm-evaluation-harness task (YAML + JSONL) into OUT_DIR."""
    from damoc.tasks.harness import export_lm_eval

    task = export_lm_eval(_load(config, overrides), out_dir, candidate)
    typer.echo(f"{task.yaml_file}\n{task.data_file}")
    typer.echo(
        f"{task.num_examples} examples; run: lm_eval --model hf --model_args pretrained=MODEL "
        f"--include_path {out_dir} --tasks {task.name}",
        err=True,
    )


@tasks_app.command("check")
def tasks_check_cmd(
    config: ConfigArg,
    overrides: OverridesArg = None,
    json_: Annotated[bool, typer.Option("--json", help="print the full report as JSON")] = False,
) -> None:
    """Validate the task's train/eval data (every problem, with line and field) and describe it; exit 2 on problems."""
    from damoc.tasks.check import check_task

    report = check_task(_load(config, overrides))
    if json_:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_task_check(report)
    if not report.ok:
        raise SystemExit(2)


def _print_task_check(report: Any) -> None:
    from rich.console import Console
    from rich.markup import escape

    from damoc.tasks.check import label_rows, problem_rows, summary_rows

    console = Console()
    for split in report.splits:
        console.print(f"{split.split}: {escape(split.source)}", highlight=False)
    console.print(_table(f"{report.task_type} task; lengths in {report.length_unit}", *summary_rows(report)))
    console.print(f"lengths counted in {escape(report.length_note)}", highlight=False)
    header, labels = label_rows(report)
    if labels:
        console.print(_table("labels (task.choices)", header, labels))
    if report.problems:
        console.print(_table(f"{len(report.problems)} problem(s)", *problem_rows(report)))
    for split in report.splits:
        for lines in split.duplicate_lines:
            console.print(f"[yellow]duplicate[/yellow] in {split.split}: lines {lines}", highlight=False)
    for leak in report.leaked:
        console.print(f"[yellow]leak[/yellow]: eval line {leak.eval_line} = train line {leak.train_line}")
    verdict = "[green]ok[/green]" if report.ok else f"[red]{len(report.problems)} problem(s)[/red]"
    console.print(f"{verdict}; {report.leaks} eval question(s) also in train", highlight=False)


def _table(title: str, header: list[str], rows: list[list[str]]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    for h in header:
        table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*(Text(c) for c in r))  # Text: user values such as "[red]" print as typed
    return table


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    _setup_logging(verbose)


def _print_error(message: str) -> None:
    from rich.markup import escape

    # escape: user values such as "[red]" must print as typed; soft_wrap: paths stay unbroken and greppable
    _console().print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)


def main() -> None:
    """Console-script entry point: DamocError becomes one clear message and exit code 2.

    An OSError (permission denied, disk full, a path that is a file) is the user's environment, not a
    bug: it is reported the same way. Any other exception is a bug and keeps its traceback.
    """
    try:
        app(standalone_mode=False)
    except DamocError as exc:
        _print_error(str(exc))
        sys.exit(2)
    except OSError as exc:
        _print_error(str(exc))
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        _console().print("interrupted; finished stages are kept, run the same command again to resume")
        sys.exit(130)
    except Exception as exc:
        if _is_usage_error(exc):  # a missing argument, an unknown option, a bare command group
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise


def _is_usage_error(exc: Exception) -> bool:
    """A click usage error, from click itself or from the copy typer >= 0.22 vendors (``typer._click``)."""
    import click

    return isinstance(exc, (click.ClickException, typer.TyperException)) and hasattr(exc, "show")
