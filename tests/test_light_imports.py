"""`import damoc`, its lazy API names (damoc.run, load_config, ...), the config, the registries and selection never import torch (style rule 9)."""

from __future__ import annotations

import subprocess
import sys


def test_light_modules_do_not_import_torch() -> None:
    code = (
        "import sys, damoc, damoc.config, damoc.selection, damoc.report, damoc.cli\n"
        "from damoc.registry import KINDS, registry\n"
        "damoc.run, damoc.load_config, damoc.validate_selection, damoc.train_proxy\n"
        "[registry(k).names() for k in KINDS]\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'datasets', 'ray', 'plotly', 'playwright', 'mlflow', 'tensorboard') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "", f"heavy modules imported: {out}"
