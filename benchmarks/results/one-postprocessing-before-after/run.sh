#!/usr/bin/env bash
# Before (42dc8d9) and after (working tree) of the benchmarks the post-processing change touches.
mkdir -p /tmp/ba
for b in bench_postprocess bench_e2e bench_matrix_nms; do
  for side in before after after2 before2; do
    case $side in before*) root=/tmp/before;; after*) root=/work/main;; esac
    (cd $root && PYTHONPATH=$root timeout 600 /work/main/.venv/bin/python benchmarks/$b.py --repeats 3 > /tmp/ba/$b.$side.txt 2>&1)
    echo "$b $side rc=$?"
  done
done
