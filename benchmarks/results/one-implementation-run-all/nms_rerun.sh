out=/work/main/benchmarks/results/one-implementation-run-all
for side in after before after2 before2; do
  case $side in before*) root=/tmp/before;; after*) root=/tmp/exp/after;; esac
  (cd $root && PYTHONPATH=$root /work/main/.venv/bin/python benchmarks/bench_matrix_nms.py --repeats 5 > $out/bench_matrix_nms.rerun.$side.txt 2>&1)
  echo $side $?
done
