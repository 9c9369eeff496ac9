#!/usr/bin/env bash
# RLMRec Table 1, Con/Gen rows on Amazon-book: RLMRec's own GPT-3.5 profiles of every user and item
# ($SHARED/amazon-book/profiles, imported as they are), embedded with the local encoder(s), then:
#   - LightGCN base / Con / Gen for every seed in SEEDS, its shuffled-profile and weight-0 controls (first seed);
#   - every other backbone in AB_BACKBONES: base / Con / Gen, first seed (AB_ALL_SEEDS=1: every seed);
#   - the semantic-only row (cosine of the profile vectors, no training);
#   - for each extra encoder in AB_ENCODERS ("mpnet", "gemma": RQ2 / Fig. 4b): LightGCN Con and semantic-only, first seed.
#   AB_BACKBONES  default "gccf" (add "sgl simgcl dccf autocf" for the whole table: hours each on a CPU)
#   AB_ENCODERS   extra `embed --encoder` choices (mpnet, gemma), default none; docs/encoders.md sets them up
#   AB_NOISE      1 (default): then RQ3 on this dataset, LightGCN base / Con / Gen at 0-25 % injected noise
#                 (pipelines/noise.sh with NOISE_DATASET=amazon-book, NOISE_LEVELS and SEEDS as set); 0 skips it
# QUICK=1 skips this section (embedding 20k profiles alone takes minutes: reproduce-quick keeps its budget);
# QUICK_AMAZON_BOOK_PROFILES=1 runs its short version, the semantic-only row (import, embedding, a cosine ranking:
# no training). Every run resumes (--resume) and every stage skips itself when up to date.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [[ $QUICK == 1 && ${QUICK_AMAZON_BOOK_PROFILES:-0} != 1 ]]; then
    note "amazon-book-profiles skipped in the quick set (QUICK_AMAZON_BOOK_PROFILES=1 runs its semantic-only row)"
    exit 0
fi
ds=amazon-book
AB_BACKBONES=${AB_BACKBONES:-gccf}
AB_ENCODERS=${AB_ENCODERS:-}
first=${SEEDS%% *}
note "amazon-book with RLMRec's GPT-3.5 profiles; seeds: $SEEDS; other backbones: $AB_BACKBONES; extra encoders: ${AB_ENCODERS:-none}"

prepare "$ds"
ARTIFACTS+=("data/$ds")
rlmrec_profiles_embeddings "$ds"
profiles=$RLMREC_PROFILES
real=$RLMREC_EMBEDDINGS
shuffled=$WORKDIR/embeddings/$ds/all-minilm-l6-v2-shuffled
stage "embed $ds (shuffled control)" llmrec embed --dataset "$ds" --shuffle --vectors "$real" --name all-minilm-l6-v2-shuffled
ARTIFACTS+=("$shuffled")

train "$ds" semantic none "$real" "$first"
if [[ $QUICK == 1 ]]; then
    finish
    exit 0
fi

for seed in $SEEDS; do
    train "$ds" lightgcn none "" "$seed"
    train "$ds" lightgcn con "$real" "$seed"
    train "$ds" lightgcn gen "$real" "$seed"
done
for align in con gen; do
    train "$ds" lightgcn "$align" "$shuffled" "$first"
    train "$ds" lightgcn "$align" "$real" "$first" w0
done
seeds=$first
[[ ${AB_ALL_SEEDS:-0} == 1 ]] && seeds=$SEEDS
for seed in $seeds; do
    for backbone in $AB_BACKBONES; do
        train "$ds" "$backbone" none "" "$seed"
        train "$ds" "$backbone" con "$real" "$seed"
        train "$ds" "$backbone" gen "$real" "$seed"
    done
done
for encoder in $AB_ENCODERS; do
    case $encoder in
        mpnet) folder=all-mpnet-base-v2 ;;
        gemma) folder=embeddinggemma-300m ;;
        *) echo "error: AB_ENCODERS: $encoder is not a local encoder; choose mpnet or gemma" >&2; exit 2 ;;
    esac
    vectors=$WORKDIR/embeddings/$ds/$folder
    stage "embed $ds ($encoder)" llmrec embed --dataset "$ds" --profiles "$profiles" --encoder "$encoder"
    ARTIFACTS+=("$vectors")
    train "$ds" lightgcn con "$vectors" "$first"
    train "$ds" semantic none "$vectors" "$first"
done
finish
if [[ ${AB_NOISE:-1} == 1 ]]; then
    NOISE_DATASET=$ds stage "noise on $ds (RQ3)" bash "$ROOT/pipelines/noise.sh"
fi
