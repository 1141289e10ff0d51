"""Finished ground truths kept in git, so the benchmark's longest work outlives the machine it ran on.

A ground truth (one candidate fine-tuned on a task's whole training set, then evaluated on the
whole eval split) costs one to three hours here, and the cache folder that holds it lives only as
long as its machine. Once one finishes, its small files (``train.json``: the recipe, losses, seconds;
``eval.json``; ``predictions.jsonl``: every eval example's scores, which the intervals and ties are
bootstrapped from; ``curve.json``; the manifest with its cache key) are copied to
``benchmarks/results/ground_truth/<key>/``. The adapter weights are not: nothing downstream of a
finished ground truth reads them, and weights never go in git.

On a machine whose cache lacks an entry, :func:`restore` copies the record back into
``<cache>/<key>/result/``, so the benchmark finds the ground truth as finished instead of training it
again. The key is the content hash of (weights, data, recipe, scoring settings, seed), so a record is
only ever found by the run that would train the same fine-tune. Restored entries are marked
(``restored_from`` in their manifest) and have no ``adapter/`` folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from damoc.artifacts import MANIFEST, is_done
from damoc.reports import EVAL_REPORT, PREDICTIONS_FILE
from damoc.validation.base import CURVE_FILE, RESULT_DIR, GroundTruthTrainReport

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "results" / "ground_truth"
FILES = (GroundTruthTrainReport.file_name, EVAL_REPORT, PREDICTIONS_FILE, CURVE_FILE, MANIFEST)


def save_record(entry: Path, key: str, records: Path = RECORDS) -> Path | None:
    """Copy a finished ground truth's small files from its cache entry into ``records/<key>/``.

    Returns the record folder, or None when the entry is not finished with this key. An existing
    record is left as it is (a finished ground truth does not change).
    """
    result = entry / RESULT_DIR
    out = records / key
    if (out / MANIFEST).is_file():
        return out
    if not is_done(result, key):
        return None
    tmp = out.with_name(f".{key}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(result / name, tmp / name)
    tmp.rename(out)
    return out


def restore(entry: Path, key: str, records: Path = RECORDS) -> bool:
    """Put a recorded ground truth back into an empty cache entry; True when the entry is now finished.

    An entry that is already finished is left alone; a partly trained one (checkpoints, no result)
    gets the finished result, and its checkpoints stay until the fine-tune would have removed them.
    """
    result = entry / RESULT_DIR
    if is_done(result, key):
        return True
    record = records / key
    manifest = record / MANIFEST
    if not manifest.is_file() or json.loads(manifest.read_text("utf-8")).get("config_hash") != key:
        return False
    missing = [name for name in FILES if not (record / name).is_file()]
    if missing:
        raise SystemExit(f"{record}: the ground-truth record lacks {missing}; restore it from git or delete the folder")
    tmp = entry / f".{RESULT_DIR}.restore-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(record / name, tmp / name)
    data = json.loads((tmp / MANIFEST).read_text("utf-8"))
    data["restored_from"] = str(record.relative_to(ROOT) if record.is_relative_to(ROOT) else record)
    (tmp / MANIFEST).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(result, ignore_errors=True)
    tmp.rename(result)
    return True
