#!/usr/bin/env bash
# The demo end to end on the shipped data: prepare, profiles (shipped, else the local LLM), embeddings, LightGCN
# base / RLMRec-Con / RLMRec-Gen, the semantic-only baseline, evaluation, and a schema check of every artifact.
# One training seed: the first of SEEDS. Settings: see pipelines/common.sh.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

seed=${SEEDS%% *}
prepare demo
ARTIFACTS+=(data/demo)
embed_profiles demo
embeddings=$(embeddings_dir demo)

train demo lightgcn none "" "$seed"
train demo lightgcn con "$embeddings" "$seed"
train demo lightgcn gen "$embeddings" "$seed"
train demo semantic none "$embeddings" "$seed"

finish
