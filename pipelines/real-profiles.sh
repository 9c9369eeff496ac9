#!/usr/bin/env bash
# RLMRec with real LLM profiles on PROFILE_DATASET (default steam-text; demo works too): profiles, embeddings and
# their shuffled control (rows permuted among users and among items, RLMRec RQ2), then for every backbone in
# BACKBONES and every seed in SEEDS: base, Con and Gen with the real embeddings, Con and Gen with the shuffled ones,
# and Con and Gen with their alignment weight at 0 (the variants' own settings without the profiles); plus the
# semantic-only baseline. Every run is evaluated; every artifact is schema-checked at the end.
#   BACKBONES  default "lightgcn gccf" ("lightgcn" when QUICK=1)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [[ $QUICK == 1 ]]; then
    BACKBONES=${BACKBONES:-lightgcn}
else
    BACKBONES=${BACKBONES:-lightgcn gccf}
fi
ds=$PROFILE_DATASET
note "real profiles on $ds; backbones: $BACKBONES; seeds: $SEEDS"

prepare "$ds"
ARTIFACTS+=("data/$ds")
embed_profiles "$ds"
real=$(embeddings_dir "$ds")
shuffled=$(embeddings_dir "$ds" all-minilm-l6-v2-shuffled)
stage "embed $ds (shuffled control)" llmrec embed --dataset "$ds" --shuffle --vectors "$real" \
    --name all-minilm-l6-v2-shuffled
ARTIFACTS+=("$shuffled")

for seed in $SEEDS; do
    for backbone in $BACKBONES; do
        train "$ds" "$backbone" none "" "$seed"
        for align in con gen; do
            train "$ds" "$backbone" "$align" "$real" "$seed"
            train "$ds" "$backbone" "$align" "$shuffled" "$seed"
            train "$ds" "$backbone" "$align" "$real" "$seed" w0
        done
    done
done
# no training, so no seed: cosine similarity of the profile embeddings alone
train "$ds" semantic none "$real" "${SEEDS%% *}"

finish
