"""Stage 4 through lm-evaluation-harness 0.4.13 (``evaluation.backend: lm_eval``).

The model damoc loaded (adapter merged) is wrapped in lm-eval's ``HFLM``; the eval examples are
exported as an lm-eval task (:mod:`damoc.tasks.harness`) into a temporary folder inside ``out_dir``;
``simple_evaluate`` runs it with the Hugging Face hub and ``datasets`` offline; and its per-sample
responses become the same prediction rows the damoc backend writes (log-likelihood per choice, or
the generated answer), so damoc's metric plug-ins compute the reported numbers either way.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from damoc.config import EvaluationConfig, TaskType
from damoc.errors import ConfigError, DataError
from damoc.progress import ProgressFn, tick
from damoc.tasks.example import Example
from damoc.tasks.harness import LM_EVAL_VERSION, export_lm_eval_task
from damoc.tasks.prompts import PromptSpec

log = logging.getLogger(__name__)

INSTALL_HINT = f"pip install lm_eval=={LM_EVAL_VERSION}"


def require_lm_eval() -> None:
    """Fail early, before a model is loaded, when lm-eval is not installed; warn on another version.

    Raises:
        ConfigError: ``evaluation.backend`` is ``lm_eval`` and the package is missing.
    """
    if importlib.util.find_spec("lm_eval") is None:
        raise ConfigError(
            f"evaluation.backend is 'lm_eval' but lm-evaluation-harness is not installed; "
            f"run `{INSTALL_HINT}` (or `pip install damoc[lm_eval]`), or set evaluation.backend: damoc"
        )
    from importlib.metadata import version

    found = version("lm_eval")
    if found != LM_EVAL_VERSION:
        log.warning("lm_eval %s installed; damoc's parity is checked against %s", found, LM_EVAL_VERSION)


@contextlib.contextmanager
def offline_hub() -> Iterator[None]:
    """HF_HUB_OFFLINE / HF_DATASETS_OFFLINE for the block, also in ``datasets`` and ``huggingface_hub``
    if they were imported before (they read the variables once, at import)."""
    import datasets.config
    import huggingface_hub.constants as hub_constants

    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    attrs = [(datasets.config, "HF_HUB_OFFLINE"), (datasets.config, "HF_DATASETS_OFFLINE"),
             (hub_constants, "HF_HUB_OFFLINE")]  # fmt: skip
    values = [getattr(module, name) for module, name in attrs]
    os.environ.update(dict.fromkeys(saved, "1"))
    for module, name in attrs:
        setattr(module, name, True)
    try:
        yield
    finally:
        for (module, name), value in zip(attrs, values, strict=True):
            setattr(module, name, value)
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def predict_with_lm_eval(
    examples: list[Example], task_type: TaskType, model: Any, tokenizer: Any, cfg: EvaluationConfig, out_dir: Path,
    progress: ProgressFn | None = None, spec: PromptSpec | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Prediction rows for ``examples`` computed by lm-eval's ``HFLM`` on the already loaded ``model``.

    Args:
        examples: the eval examples.
        task_type: ``multiple_choice`` or ``qa``.
        model: a transformers causal LM (adapter merged), used as it is (device and dtype included).
        tokenizer: its tokenizer.
        cfg: ``batch_size``, ``max_seq_len`` (HFLM ``max_length``) and ``max_new_tokens``.
        out_dir: the stage folder; the exported task lives in a temporary folder inside it.
        progress: told once, when lm-eval is done (lm-eval draws its own bars).
        spec: the prompt settings, the same as training's.

    Raises:
        ConfigError: lm-eval is not installed.
    """
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".lm_eval-") as tmp:
        samples = run_lm_eval(examples, task_type, model, tokenizer, cfg, Path(tmp), spec)["samples"]
    tick(progress, "evaluate", 1, 1)
    return rows_from_samples(examples, task_type, samples)


def run_lm_eval(
    examples: list[Example], task_type: TaskType, model: Any, tokenizer: Any, cfg: EvaluationConfig, work_dir: Path,
    spec: PromptSpec | None = None,
) -> dict[str, Any]:  # fmt: skip
    """lm-eval on ``examples`` exported into ``work_dir``: ``{"results": {metric: value}, "samples": [...]}``.

    The task files and the ``datasets`` cache are written under ``work_dir``; the run is zero-shot,
    offline and without bootstrap.

    Raises:
        ConfigError: lm-eval is not installed.
    """
    require_lm_eval()
    with offline_hub():
        task = export_lm_eval_task(
            examples, task_type, work_dir / "task", name="damoc_eval", spec=spec, tokenizer=tokenizer,
            max_new_tokens=cfg.max_new_tokens, datasets_cache=work_dir / "datasets",
        )  # fmt: skip
        out = _simple_evaluate(task.yaml_file.parent, task.name, model, tokenizer, cfg)
    return {"results": out["results"][task.name], "samples": list(out["samples"][task.name])}


def _simple_evaluate(include_path: Path, task: str, model: Any, tokenizer: Any, cfg: EvaluationConfig) -> Any:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=cfg.batch_size, max_length=cfg.max_seq_len)
    manager = TaskManager(include_path=str(include_path), include_defaults=False)
    # no global reseeding: lm-eval would otherwise reset Python's, numpy's and torch's generators
    out = lm_eval.simple_evaluate(
        model=lm, tasks=[task], task_manager=manager, num_fewshot=0, log_samples=True, bootstrap_iters=0,
        random_seed=None, numpy_random_seed=None, torch_random_seed=None,
    )  # fmt: skip
    return out


def rows_from_samples(examples: list[Example], task_type: str, samples: list[dict]) -> list[dict[str, Any]]:
    """damoc prediction rows from lm-eval samples: ``filtered_resps`` per doc, in example order.

    Raises:
        DataError: the samples do not cover the examples one to one.
    """
    from damoc.evaluation.generate import clean_answer
    from damoc.evaluation.loglik import choice_row

    by_doc = {int(s["doc_id"]): s for s in samples}
    if sorted(by_doc) != list(range(len(examples))):
        raise DataError(f"lm-eval returned {len(by_doc)} samples for {len(examples)} examples")
    rows = []
    for k, ex in enumerate(examples):
        resps = by_doc[k]["filtered_resps"]
        if str(by_doc[k]["doc"]["id"]) != ex.id:
            raise DataError(f"lm-eval sample {k} is example {by_doc[k]['doc']['id']!r}, expected {ex.id!r}")
        if task_type == "multiple_choice":
            rows.append(choice_row(ex, [float(r[0]) for r in resps]))
        else:
            text = resps[0] if isinstance(resps, list) else resps
            rows.append({"id": ex.id, "answer": ex.answer, "prediction": clean_answer(str(text))})
    return rows
