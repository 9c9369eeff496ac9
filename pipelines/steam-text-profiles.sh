#!/usr/bin/env bash
# Write (or go on writing) the steam-text profiles with the local LLM, then ship them with their embeddings in
# datasets/steam-text/ so that reports rebuild without the LLM. Hours of CPU (~2,150 prompts; users quote ~1,500
# tokens of item profiles each): stop it any time. Every stop copies the answers so far to
# datasets/steam-text/profiles/steam@1/answers.parquet; commit that file and a rerun on any machine goes on from it.
#   PROFILE_ARGS  options for `llmrec profile`, e.g. "--threads 2" on an otherwise idle 2-core machine
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ds=steam-text
shipped=datasets/$ds/profiles/$(prompt_id "$ds")
work=$WORKDIR/profiles/$ds/$(prompt_id "$ds")
if [[ -f $shipped/users.parquet ]]; then
    echo "$shipped: already shipped (delete its items/users.parquet to write them again)"
    exit 0
fi
keep_answers() {
    if [[ -f $work/answers.parquet ]]; then
        mkdir -p "$shipped"
        cp "$work/answers.parquet" "$shipped/"
        echo "kept the answers so far in $shipped/answers.parquet"
    fi
}
trap keep_answers EXIT

prepare "$ds"
ensure_profiles "$ds"
stage "embed $ds" llmrec embed --dataset "$ds" --profiles "$work"
emb=$(embeddings_dir "$ds")
mkdir -p "datasets/$ds/embeddings/all-minilm-l6-v2"
cp "$work"/{items,users,failures}.parquet "$work/manifest.json" "$shipped/"
cp "$emb"/{items,users}.parquet "$emb/manifest.json" "datasets/$ds/embeddings/all-minilm-l6-v2/"
note "shipped $shipped and datasets/$ds/embeddings/all-minilm-l6-v2; commit them"
