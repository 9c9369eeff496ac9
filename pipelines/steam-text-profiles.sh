#!/usr/bin/env bash
# Write (or go on writing) the steam-text profiles with the local LLM, then ship them with their embeddings in
# datasets/steam-text/ so that reports rebuild without the LLM. Hours of CPU (~2,150 prompts; users quote ~1,500
# tokens of item profiles each): stop it any time. Every stop copies the answers so far to
# datasets/steam-text/profiles/steam@1/answers.parquet; commit that file and a rerun on any machine goes on from it.
#   SHARDS        parallel single-thread `llmrec profile --shard K/N` processes (default: the number of cores).
#                 Measured here on 2 cores: 2 shards answered ~12 item profiles a minute, one process with
#                 2 threads ~8 (a 0.5B model hardly gains from a second thread). SHARDS=1: one process.
#   PROFILE_ARGS  options for every `llmrec profile` call, e.g. "--backend openai --base-url URL --model NAME"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ds=steam-text
shipped=datasets/$ds/profiles/$(prompt_id "$ds")
work=$WORKDIR/profiles/$ds/$(prompt_id "$ds")
if [[ -f $shipped/users.parquet ]]; then
    echo "$shipped: already shipped (delete its items/users.parquet to write them again)"
    exit 0
fi
pids=()
keep_answers() {
    if ((${#pids[@]})); then  # stopped while shards run: stop them too (each writes answers.parquet on the way out)
        kill -TERM "${pids[@]}" 2>/dev/null || true
        wait || true
    fi
    if [[ -f $work/answers.parquet ]]; then
        mkdir -p "$shipped"
        cp "$work/answers.parquet" "$shipped/"
        echo "kept the answers so far in $shipped/answers.parquet"
    fi
}
trap keep_answers EXIT

prepare "$ds"
SHARDS=${SHARDS:-$(nproc)}
# one single-thread process per shard: items first; a shard whose items are done waits for the others' items (every
# user prompt quotes them), then asks its users; the unsharded call after them asks for anything left (a stopped
# shard's share) and writes the outputs
if ((SHARDS > 1)); then
    read -ra extra <<<"${PROFILE_ARGS:-}"
    [[ -f $shipped/answers.parquet ]] && extra+=(--resume-from "$shipped")
    for ((k = 0; k < SHARDS; k++)); do
        # the command itself, not the llmrec() function: $! must be the Python process for the stop to reach it
        OMP_NUM_THREADS=1 "$PYTHON" -m llmrec_cli.cli --workdir "$WORKDIR" "${LLMREC_GLOBAL[@]}" profile \
            --dataset "$ds" --prompt "$(prompt_id "$ds")" --threads 1 --shard "$k/$SHARDS" "${extra[@]}" \
            >"$WORKDIR/profile-shard-$k.log" 2>&1 &
        pids+=($!)
    done
    note "profiling $ds in $SHARDS shards; progress in $WORKDIR/profile-shard-*.log"
    failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    pids=()
    if ((failed)); then
        echo "a shard failed or was stopped; see $WORKDIR/profile-shard-*.log" >&2
        exit 1
    fi
fi
ensure_profiles "$ds"
stage "embed $ds" llmrec embed --dataset "$ds" --profiles "$work"
emb=$(embeddings_dir "$ds" all-minilm-l6-v2)  # the folder just written
mkdir -p "datasets/$ds/embeddings/all-minilm-l6-v2"
cp "$work"/{items,users,failures}.parquet "$work/manifest.json" "$shipped/"
cp "$emb"/{items,users}.parquet "$emb/manifest.json" "datasets/$ds/embeddings/all-minilm-l6-v2/"
note "shipped $shipped and datasets/$ds/embeddings/all-minilm-l6-v2; commit them"
