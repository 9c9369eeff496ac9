#!/usr/bin/env bash
# RLMRec RQ3 (paper §4.4.1, Fig. 5): fake training interactions at 5, 10, 15, 20 and 25 % of the training set of
# PROFILE_DATASET; LightGCN base / Con / Gen on each, with the clean dataset's embeddings (the noisy copies keep
# its users, items and ids; only train.parquet gains fake pairs). The clean runs are the 0 % point.
# Every seed in SEEDS.
#   NOISE_DATASET  default PROFILE_DATASET; amazon-book uses RLMRec's own GPT-3.5 profiles (the paper's RQ3 setting)
#   NOISE_LEVELS   percentages, default "0 5 10 15 20 25"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ds=${NOISE_DATASET:-$PROFILE_DATASET}
levels=${NOISE_LEVELS:-0 5 10 15 20 25}
note "noise on $ds at $levels %; seeds: $SEEDS"

prepare "$ds"
ARTIFACTS+=("data/$ds")
if [[ $ds == amazon-book ]]; then
    rlmrec_profiles_embeddings "$ds"
    embeddings=$RLMREC_EMBEDDINGS
else
    embed_profiles "$ds"
    embeddings=$(embeddings_dir "$ds")
fi

for percent in $levels; do
    target=$ds
    if ((percent > 0)); then
        target=$ds-noise$percent
        # the recipe's split seed also seeds the fake pairs: never pass --seed to prepare, it would change the split
        prepare "$ds" --name "$target" --noise "$(printf '0.%02d' "$percent")"
        ARTIFACTS+=("data/$target")
    fi
    for seed in $SEEDS; do
        train "$target" lightgcn none "" "$seed"
        train "$target" lightgcn con "$embeddings" "$seed"
        train "$target" lightgcn gen "$embeddings" "$seed"
    done
done

finish
