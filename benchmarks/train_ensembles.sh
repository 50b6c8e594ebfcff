#!/usr/bin/env bash
# Train the shipped ensembles' members in parallel (one process per member), as was done for weights/.
# Usage: benchmarks/train_ensembles.sh DATA_ROOT RUNS_DIR DEVICE TIME_BUDGET_S [--resume]
# MultiLoc: members validated on folds 1..4 (fold 0 is the test fold, never used here).
# DeepLoc: members validated on homology folds 0..3 (trained on the other seven).
set -euo pipefail
data=$1 runs=$2 device=$3 budget=$4 extra=${5:-}
common=(--encoding onehot+blosum62 --lstm-hidden 128 --conv2-channels 128 --epochs 200 --patience 20
        --device "$device" --no-progress --time-budget "$budget" $extra)
pids=()
for f in 1 2 3 4; do
  locviz_out="$runs/multiloc_f$f"; mkdir -p "$locviz_out"
  python3 -m locviz.cli train --dataset multiloc --data "$data/multiloc" --val-fold $f --seed $f \
    --out "$locviz_out" "${common[@]}" >> "$locviz_out/stdout.log" 2>&1 & pids+=($!)
done
for f in 0 1 2 3; do
  locviz_out="$runs/deeploc_f$f"; mkdir -p "$locviz_out"
  python3 -m locviz.cli train --dataset deeploc --data "$data/deeploc" --val-fold $f --seed $((f + 10)) \
    --out "$locviz_out" "${common[@]}" >> "$locviz_out/stdout.log" 2>&1 & pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
