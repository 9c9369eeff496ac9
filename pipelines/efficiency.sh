#!/usr/bin/env bash
# RLMRec RQ5 (paper Table 4): seconds per training epoch on Amazon-book for every backbone x {none, con, gen} with
# the paper's 1536-d semantic vectors, and the full-rank evaluation time; results go to $WORKDIR/bench/rlmrec_speed.csv
# for `llmrec report`. QUICK=1 times LightGCN only, one epoch each.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [[ $QUICK == 1 ]]; then
    args=(--backbones lightgcn --epochs 1)
else
    args=()
fi
csv=$WORKDIR/bench/rlmrec_speed.csv
# The benchmark has no manifest: it counts as up to date when its CSV was written by a run with the same options.
stamp=$WORKDIR/bench/rlmrec_speed.options
options="--source $SHARED/amazon-book ${args[*]}"
if [[ -f $csv && -f $stamp && $(<"$stamp") == "$options" ]]; then
    echo "efficiency: up to date ($csv, options: $options); delete it to measure again"
    exit 0
fi
mkdir -p "$WORKDIR/bench"
stage "benchmark rlmrec_speed" "$PYTHON" benchmarks/rlmrec_speed.py --source "$SHARED/amazon-book" "${args[@]}" --csv "$csv"
printf '%s' "$options" >"$stamp"
