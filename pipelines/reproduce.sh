#!/usr/bin/env bash
# Reproduce the papers' experiments section by section, then write the report (reports/<REPORT_NAME>/).
# QUICK=1 is the reduced set (`make reproduce-quick`, under 20 min on 2 idle cores): one seed, LightGCN only (on
# Amazon-book too), LightGCN-only speed table, shorter CLLM4Rec and Multi-VAE budgets (see each script).
#   SECTIONS     the scripts to run, in order (default: all below)
#   REPORT_NAME  default "full", or "quick" when QUICK=1
#   REPORT_DIR   where the report goes (default: reports/<REPORT_NAME> in the repository)
# Everything is resumable: rerun after an interruption and finished stages are skipped as up to date.
# Every step runs single-threaded unless OMP_NUM_THREADS is set (common.sh says why).
EXPERIMENT=${EXPERIMENT:-$([[ ${QUICK:-0} == 1 ]] && echo reproduce-quick || echo reproduce)}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SECTIONS=${SECTIONS:-demo real-profiles noise efficiency amazon-book amazon-book-profiles cllm4rec-beauty}
if [[ $QUICK == 1 ]]; then
    REPORT_NAME=${REPORT_NAME:-quick}
else
    REPORT_NAME=${REPORT_NAME:-full}
fi
note "reproduce (QUICK=$QUICK) into $WORKDIR; sections: $SECTIONS; profile dataset: $PROFILE_DATASET; seeds: $SEEDS"

summary=()
for section in $SECTIONS; do
    script=$ROOT/pipelines/$section.sh
    if [[ ! -f $script ]]; then
        echo "error: SECTIONS: no pipelines/$section.sh; choose among demo real-profiles noise efficiency amazon-book amazon-book-profiles cllm4rec-beauty" >&2
        exit 2
    fi
    start=$SECONDS
    stage "section $section" bash "$script"
    summary+=("$(printf '%-16s %6d s' "$section" $((SECONDS - start)))")
done
report_out=()
[[ -n ${REPORT_DIR:-} ]] && report_out=(--out "$REPORT_DIR")
stage "report $REPORT_NAME" llmrec report --name "$REPORT_NAME" "${report_out[@]}"

printf '\nsection wall times (load now: %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %s\n' "${summary[@]}"
