#!/usr/bin/env bash
# The whole GPU check as one command on a lent GPU machine (benchmarks/gpu_check.py says what it runs).
# Needs the carried folders .whl (the pinned wheels that machine lacks) and .gpu (gpu_check.py pack .gpu).
# Results land in $OUT: gpu_check.json (tiny + shaped), pytest.log (the suite with DAMOC_TEST_DEVICE=auto).
set -u
OUT=${OUT:-/tmp/damoc-gpu}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD/src:/tmp/site" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.csv"
timeout "${TINY_S:-120}" python3 benchmarks/gpu_check.py run --specs .gpu --out "$OUT/gpu_tiny.json" --parts tiny 2>&1 | grep -v "Loading weights\|Writing model" | tail -n 40
timeout "${SHAPED_S:-270}" python3 benchmarks/gpu_check.py run --specs .gpu --out "$OUT/gpu_shaped.json" --parts shaped \
  --task "${TASK:-medical_qa}" --gt-epochs "${GT_EPOCHS:-1}" 2>&1 | grep -v "Loading weights\|Writing model" | tail -n 60
# -v: each finished test is one line with its name, so a run stopped by the timeout still says which failed
DAMOC_TEST_DEVICE=auto timeout "${PYTEST_S:-150}" python3 -m pytest -v -m "not slow" -p no:cacheprovider -n 12 \
  --ignore=tests/executors/test_ray_executor.py --ignore=tests/test_report_browser.py > "$OUT/pytest.log" 2>&1
echo "pytest exit $?"; grep -E "FAILED|ERROR" "$OUT/pytest.log" | head -n 40; tail -n 5 "$OUT/pytest.log"
