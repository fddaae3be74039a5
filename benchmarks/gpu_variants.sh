#!/usr/bin/env bash
# Train the issue-7 ablation rungs on IMDB (about 75 single-core minutes per seed on a 2-core CPU) on one GPU
# machine, many at a time, and pack their run directories (without the checkpoints) for
# wave_variants_benchmark.py to summarise on the CPU machine:
#
#   bash benchmarks/gpu_variants.sh OUT_DIR [TIME_LIMIT_S]
#   tar -xzf OUT_DIR/variant_runs.tar.gz           # back on the CPU machine, in the repository root
#   python benchmarks/wave_variants_benchmark.py    # reuses the finished runs, trains what is missing
#
# Accuracy is what these runs are for: their tokens/s are GPU numbers and are not used for the 10x-BERT check,
# which wave_variants_benchmark.py reads from CPU runs only. Python packages come from PYTHONPATH or the active
# environment; the data from $WAVE_NETWORK_DATA_DIR or ../shared/data. Jobs run PARALLEL at a time (default 6);
# each gets its own tokenisation cache so that no two processes write the same cache file.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: gpu_variants.sh OUT_DIR [TIME_LIMIT_S]}
LIMIT=${2:-3000}
PARALLEL=${PARALLEL:-6}
mkdir -p "$OUT"

# dataset|rung|seed (rung names as in wave_variants_benchmark.py's LADDER), most wanted first. Its IMDB rungs;
# the pre-trained ones need the offline MiniLM weights (scripts/setup.sh) on the GPU machine too.
RUNGS=("wave-wide, nb weighting" "wave-wide, mean weighting" "wave-wide, no label smoothing"
       "wave-wide, no wide path, no label smoothing" "wave-ngram, no n-grams" "wave-ngram"
       "wave-minilm-wide (pre-trained)" "wave-minilm (pre-trained)")
JOBS=()
for rung in "${RUNGS[@]}"; do for seed in 42 43 44; do JOBS+=("imdb|$rung|$seed"); done; done
JOBS=("${JOBS[@]:0:${MAX_JOBS:-${#JOBS[@]}}}")  # MAX_JOBS=N: only the first N

job() {
    IFS='|' read -r dataset rung seed <<<"$1"
    log="$OUT/logs/${dataset}_${rung//[^a-z0-9-]/_}_$seed.log"
    WAVE_NETWORK_CACHE="/tmp/wave-cache/$dataset-$seed-${rung//[^a-z0-9-]/_}" \
        python3 benchmarks/wave_variants_benchmark.py --datasets "$dataset" --seeds "$seed" --rungs "$rung" \
        --train-only --full >"$log" 2>&1
    local rc=$?
    echo "$(date +%T) rc=$rc $1"
}
export -f job
export OUT
mkdir -p "$OUT/logs"
touch "$OUT/started"
printf '%s\n' "${JOBS[@]}" | xargs -d '\n' -P "$PARALLEL" -I{} bash -c 'job "$@"' _ {} &
XARGS=$!
# at the time limit, stop xargs and every job under it (a timeout on xargs alone would leave its children running)
kill_tree() {
    local child
    for child in $(pgrep -P "$1"); do kill_tree "$child"; done
    kill -TERM "$1" 2>/dev/null
}
(sleep "$LIMIT"; kill_tree "$XARGS") &
WATCHDOG=$!
wait "$XARGS"
kill "$WATCHDOG" 2>/dev/null
echo "finished or stopped at $(date +%T)"
# finished runs only, without checkpoints
find runs/benchmarks -name results.json -newer "$OUT/started" -printf '%h\n' | sort >"$OUT/finished.txt"
tar -czf "$OUT/variant_runs.tar.gz" --exclude='*/best' --exclude='*/last' -T "$OUT/finished.txt"
tar -czf "$OUT/logs.tar.gz" -C "$OUT" logs
rm -rf "$OUT/logs"
rm -f "$OUT/started"
cat "$OUT/finished.txt"
