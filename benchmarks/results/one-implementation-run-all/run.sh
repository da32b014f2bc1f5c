#!/usr/bin/env bash
# run_all's benchmarks at 42dc8d9 (before) and at the change (after), alternating, --repeats 3, quiet machine.
out=/work/main/benchmarks/results/one-implementation-run-all
mkdir -p $out
lscpu > $out/lscpu.txt
for b in bench_postprocess bench_e2e bench_matrix_nms bench_targets bench_lvis_memory bench_train_step bench_deploy; do
  for side in before after; do
    case $side in before) root=/tmp/before;; after) root=/tmp/exp/after;; esac
    start=$(date +%s)
    (cd $root && PYTHONPATH=$root timeout 900 /work/main/.venv/bin/python benchmarks/$b.py --repeats 3 > $out/$b.$side.txt 2>&1)
    echo "$b $side rc=$? $(( $(date +%s) - start )) s" | tee -a $out/runs.txt
  done
done
for side in before after; do
  case $side in before) root=/tmp/before;; after) root=/tmp/exp/after;; esac
  (cd $root && PYTHONPATH=$root /work/main/.venv/bin/python benchmarks/results/one-implementation-run-all/boxes_ba.py.txt (run as a .py) > $out/boxes.$side.json 2>&1)
done
(cd /tmp/exp/after && PYTHONPATH=/tmp/exp/after /work/main/.venv/bin/python benchmarks/bench_mask_boxes.py > $out/bench_mask_boxes.after.txt 2>&1)
echo done | tee -a $out/runs.txt
