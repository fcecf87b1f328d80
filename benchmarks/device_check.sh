#!/usr/bin/env bash
# The one script to run on a machine with a GPU (issue: "models that reload and train on any
# device"). It prints everything the docs need beside the CPU figures; run it early, with a
# time limit that leaves room for a second try:
#   bash benchmarks/device_check.sh 2>&1 | tee "$OUT/device_check.log"
# On a machine whose python3 already holds a CUDA torch (and no network), point PY at it:
#   PY=python3 bash benchmarks/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# PY may be a path or a command on the PATH; only when it is neither is the venv made (that needs pip).
command -v "$PY" >/dev/null || { make venv >/dev/null && PY=.venv/bin/python; }
# Without streamlit (a GPU image with its own torch), the app's page tests cannot be collected.
APP_TESTS=""; $PY -c "import streamlit" 2>/dev/null || APP_TESTS="--ignore=tests/app"
echo "== nvidia-smi"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -5
echo "== what torch sees"; $PY -m recsys_core devices
$PY -m recsys_core data fetch ml-100k ml-1m >/dev/null
echo "== device check: every neural model, 2 epochs, CPU against each GPU"
$PY -m recsys_core devices --check --dataset ml-100k
echo "== CUDA-marked tests"; $PY -m pytest -q -m cuda -p no:cacheprovider $APP_TESTS 2>&1 | tail -3
# Issue 29's training budget: the best model of ml-1m (the blend of SASRec, GRU4Rec and EASE)
# from an empty store, its fits one after the other; the CPU figure beside it is in docs/benchmarks.md.
echo "== the best ml-1m model with its components, from empty, on the GPU"
$PY benchmarks/bench_parallel_build.py --dataset ml-1m --workers 1
# The model ml-1m's validation ranks first: the same blend with two seeds of each network, every
# network trained inside the blend's fit (an empty store); measured on the CPU only as a sum of fits.
echo "== the two-seed ml-1m blend from empty, on the GPU"
rm -rf /tmp/gpu-seeds; ( time RECSYS_ARTIFACTS=/tmp/gpu-seeds $PY -m recsys_core train blend --dataset ml-1m --set seeds=0,1 --quiet --json \
  | $PY -c "import json,sys; d=json.load(sys.stdin); print('full', d['metrics'].get('HR@10'), d['metrics'].get('NDCG@10'))" ) 2>&1 \
  | grep -E '^full|^real'
for ds in ml-100k ml-1m; do
  for m in mf ncf cdae sasrec gru4rec; do
    echo "== $m on $ds, cuda (seconds per epoch in the history)"
    $PY -m recsys_core train $m --dataset $ds --set device=cuda --set epochs=3 --set patience=3 --quiet --json \
      | $PY -c "import json,sys; d=json.load(sys.stdin); h=d['history']; print(h['device'], [round(e['seconds'],3) for e in h['epochs']], d['metrics'].get('HR@10'))"
  done
done
echo "== build --dataset ml-1m on the GPU, every model, from empty (each model's line as it ends)"
rm -rf /tmp/gpu-arts; ( time RECSYS_ARTIFACTS=/tmp/gpu-arts $PY -m recsys_core build --dataset ml-1m ) 2>&1 \
  | grep -E --line-buffered '^\[|^built|^real|^user'
echo "== the Train page's NeuMF run end to end (job manager)"; $PY benchmarks/bench_train_job.py 2>&1 | tail -8
echo "== make test"
if $PY -c "import streamlit, playwright" 2>/dev/null; then make test 2>&1 | tail -5
else echo "(skipped: $PY has no streamlit/playwright here, and make cannot install them offline; CI runs the suite)"; fi
