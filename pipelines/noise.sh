#!/usr/bin/env bash
# RLMRec RQ3 (paper §4.4.1, Fig. 5): fake training interactions at 5, 10, 15, 20 and 25 % of the training set of
# PROFILE_DATASET; LightGCN base / Con / Gen on each, with the clean dataset's embeddings (the noisy copies keep
# its users, items and ids; only train.parquet gains fake pairs). The clean runs are the 0 % point.
# Every seed in SEEDS.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ds=$PROFILE_DATASET
note "noise on $ds; seeds: $SEEDS"

prepare "$ds"
ARTIFACTS+=("data/$ds")
embed_profiles "$ds"
embeddings=$(embeddings_dir "$ds")

for percent in 0 5 10 15 20 25; do
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
