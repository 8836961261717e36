#!/usr/bin/env bash
# Times convoracle and the peers on the same shapes files, alternating them
# ROUNDS times, then joins the runs with compare.py (smallest median per row
# and implementation, the same rule on both sides). On a shared or virtual
# machine whose speed drifts over minutes, alternating keeps a slow spell
# from landing on one side only.
#
# Usage: benches/peers/interleave.sh OUT_DIR ROUNDS SHAPES.csv [SHAPES.csv ...]
# Environment: CONVORACLE (the binary; default target/release/convoracle),
# BACKENDS (default direct), PEERS (default onnxruntime,torch), THREADS
# (default 1), DTYPE (default float32).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 OUT_DIR ROUNDS SHAPES.csv [SHAPES.csv ...]" >&2
    exit 2
fi
out=$1
rounds=$2
shift 2
bin=${CONVORACLE:-target/release/convoracle}
backends=${BACKENDS:-direct}
peers=${PEERS:-onnxruntime,torch}
threads=${THREADS:-1}
dtype=${DTYPE:-float32}
here=$(dirname "$0")
mkdir -p "$out"
for shapes in "$@"; do
    name=$(basename "$shapes" .csv)
    for round in $(seq 1 "$rounds"); do
        "$bin" bench --shapes "$shapes" --backend "$backends" --threads "$threads" \
            --dtype "$dtype" --repeats 5 --max-seconds 4 \
            --csv "$out/ours.$name.$round.csv" >/dev/null 2>&1
        OMP_NUM_THREADS=$threads python3 "$here/measure_peers.py" --shapes "$shapes" \
            --peers "$peers" --threads "$threads" --dtype "$dtype" --repeats 5 \
            --row-budget-s 4 --csv "$out/peers.$name.$round.csv" >/dev/null 2>&1
    done
    ours_args=()
    peer_args=()
    for round in $(seq 1 "$rounds"); do
        ours_args+=(--ours "$out/ours.$name.$round.csv")
        peer_args+=(--peers "$out/peers.$name.$round.csv")
    done
    for backend in ${backends//,/ }; do
        python3 "$here/compare.py" "${ours_args[@]}" "${peer_args[@]}" --shapes "$shapes" \
            --backend "$backend" --threads "$threads" --dtype "$dtype" --markdown
    done
done
