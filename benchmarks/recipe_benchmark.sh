#!/bin/bash
# The benchmark queue: one run at a time on both cores. Resumable (finished parts are skipped).
cd "$(dirname "$0")/.."
[ -n "${VIRTUAL_ENV:-}" ] || echo "note: no virtual environment active" >&2
export MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736
D=${DATA:-../shared/data/figshare}
for job in "1 recipe" "1 bare" "2 recipe" "2 bare"; do
  set -- $job
  out=benchmarks/results/recipe_benchmark/fold$1_$2.json
  [ -f $out ] && { echo "skip $out"; continue; }
  echo "start fold $1 $2 $(date)"
  python benchmarks/recipe_benchmark.py --data $D --fold $1 --part $2 || echo "FAILED fold $1 $2"
done
echo "queue done $(date)"
