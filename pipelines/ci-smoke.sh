#!/usr/bin/env bash
# CI smoke test: every llmrec subcommand through the shell on the demo data, in a fresh temporary workdir, with tiny
# budgets (a few minutes on 2 cores). Each command's exit code is checked (set -e, plus expect for the failures
# that must happen), every artifact folder is validated with `llmrec check --all`, and bad input must exit 2.
# The LLM is real but small: SmolLM2-135M (installed by `make setup-test`) writes 2 item and 2 user profiles; the
# others are embedded as "None" like RLMRec does for missing profiles.
# KEEP=1 keeps the workdir (its path is printed); WORKDIR is ignored, the smoke test never touches a real one.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/llmrec-smoke.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then
    trap 'echo "smoke workdir kept: $WORKDIR"' EXIT
else
    trap 'rm -rf "$WORKDIR"' EXIT
fi
echo "smoke workdir: $WORKDIR"

# expect CODE PATTERN COMMAND...: the command must exit with CODE and print PATTERN (grep -E) on stdout or stderr.
expect() {
    local code=$1 pattern=$2 got=0 output
    shift 2
    output=$("$@" 2>&1) || got=$?
    if [[ $got != "$code" ]] || ! grep -qE -- "$pattern" <<<"$output"; then
        printf 'FAIL: %s\n  wanted exit %s and /%s/, got exit %s:\n%s\n' "$*" "$code" "$pattern" "$got" "$output" >&2
        exit 1
    fi
    printf 'ok: %s -> exit %s\n' "$*" "$code"
}

help_all() {
    local command
    for command in datasets prepare profile embed train-rlmrec train-cllm4rec train-baseline evaluate check report; do
        llmrec "$command" --help >/dev/null
    done
}
stage "help of every command" help_all
expect 0 "llmrec [0-9]" llmrec --version
stage "datasets" llmrec datasets

# --- data, profiles, embeddings
stage "prepare" llmrec prepare --dataset demo
expect 0 "up to date" llmrec prepare --dataset demo
stage "profile (local SmolLM2-135M, 2 items + 2 users)" llmrec profile --dataset demo --model smollm2-135m --limit 2
stage "embed" llmrec embed --dataset demo

# --- RLMRec: base, Con, Gen (2 epochs), the semantic-only baseline
for align in none con gen; do
    emb=()
    [[ $align != none ]] && emb=(--embeddings all-minilm-l6-v2)
    stage "train-rlmrec $align" llmrec train-rlmrec --dataset demo --backbone lightgcn --align "$align" "${emb[@]}" \
        --epochs 2 --run-id "lightgcn-$align"
done
expect 0 "up to date" llmrec train-rlmrec --dataset demo --backbone lightgcn --epochs 2 --run-id lightgcn-none
stage "train-rlmrec semantic" llmrec train-rlmrec --dataset demo --backbone semantic --embeddings all-minilm-l6-v2 \
    --run-id semantic

# --- CLLM4Rec on a tiny random GPT-2 (1 layer, 64-d, 128 tokens): 1 pretraining and 1 finetuning epoch
stage "train-cllm4rec" llmrec train-cllm4rec --dataset demo --backbone tiny-gpt2:1:64 --max-len 128 \
    --warmup-epochs 0 --pretrain-epochs 1 --finetune-epochs 1 --no-content-in-finetune --batch-size 64 --run-id cllm4rec
stage "train-baseline most-popular" llmrec train-baseline --dataset demo --model most-popular --run-id most-popular
stage "train-baseline multivae" llmrec train-baseline --dataset demo --model multivae --epochs 2 --run-id multivae

runs=(lightgcn-none lightgcn-con lightgcn-gen semantic cllm4rec most-popular multivae)
stage "evaluate" llmrec evaluate "${runs[@]}"
stage "check every artifact" llmrec check --all
stage "report" llmrec report --name smoke --out "$WORKDIR/report"
[[ -s $WORKDIR/report/report.md ]] || { echo "FAIL: report wrote no report.md" >&2; exit 1; }

# --- bad input: one line on stderr naming what is wrong, exit 2
expect 2 "no-such-dataset" llmrec prepare --dataset no-such-dataset
cp -r "$WORKDIR/data/demo" "$WORKDIR/data/broken"
"$PYTHON" - "$WORKDIR/data/broken/train.parquet" <<'EOF'
# a wrong column type: item ids as text
import sys
import polars as pl

path = sys.argv[1]
pl.read_parquet(path).with_columns(pl.col("item_id").cast(pl.String)).write_parquet(path)
EOF
expect 2 "train.parquet: column 'item_id' has type" llmrec check data/broken
rm -rf "$WORKDIR/data/broken"
rm "$WORKDIR/runs/multivae/manifest.json"
expect 2 "multivae/manifest.json: missing" llmrec check multivae

echo "ci-smoke: all commands passed"
