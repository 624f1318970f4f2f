#!/bin/bash
# The recipe benchmark queue (benchmarks/recipe_benchmark.py): the recipe and the bare loop on
# test folds 1 and 3, one run at a time on both cores. RECIPE names the recipe (default: the
# library's default recipe), DATA the Figshare folder, PARTS the parts (default "recipe bare"; a
# fine-tuning recipe is compared with the from-scratch recipe's records, so PARTS=recipe). Resumable: finished parts (their JSON
# exists) are skipped and an interrupted recipe run continues from its checkpoint.
cd "$(dirname "$0")/.."
[ -n "${VIRTUAL_ENV:-}" ] || echo "note: no virtual environment active" >&2
# glibc's default heap returns large activation buffers to the OS after every step and faults
# them back in (benchmarks/throughput.py measured eager fp32 at half speed that way).
export MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736
D=${DATA:-../shared/data/figshare}
R=${RECIPE:-$(python -c "from brainvit_effnet.recipes import DEFAULT_RECIPE; print(DEFAULT_RECIPE)")}
for part in ${PARTS:-recipe bare}; do for fold in 1 3; do
  set -- "$fold" "$part"
  out=benchmarks/results/recipe_benchmark/$R/fold$1_$2.json
  [ -f "$out" ] && { echo "skip $out"; continue; }
  echo "start $R fold $1 $2 $(date)"
  python benchmarks/recipe_benchmark.py --data "$D" --recipe "$R" --fold "$1" --part "$2" || echo "FAILED $R fold $1 $2"
done; done
python benchmarks/recipe_benchmark.py --recipe "$R" --summary > /dev/null
echo "queue done $(date)"
