#!/usr/bin/env bash
# CLLM4Rec on CLLM4Rec's Beauty split beside its baselines: most-popular, Multi-VAE, and CLLM4Rec with the reduced
# CPU recipe of docs/results.md ("CLLM4Rec on Beauty": a frozen random 2-layer 256-d GPT-2 with the GPT-2 BPE,
# 1 pretraining epoch, 15 finetuning epochs). All three evaluated (Recall@20/40, NDCG@100, recall over min(k, |T_u|)).
# QUICK=1 cuts the budgets (runs named *-quick): CLLM4Rec finetunes 2 epochs instead of 15 and skips pretraining,
# Multi-VAE trains 5 epochs instead of 200. Why no pretraining: its epoch costs ~5 min on 2 cores (the content pass,
# bound by the 50k-word softmax), a quarter of the quick budget, and after 2 finetuning epochs it made no difference
# here (valid Recall@20 0.0911 with and without it; the full recipe's 15 epochs are where it pays).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [[ $QUICK == 1 ]]; then
    pretrain_epochs=0
    finetune_epochs=2
    vae_epochs=(--epochs 5)
    note "quick budget: CLLM4Rec no pretraining + 2 finetuning epochs (recipe: 1 + 15); Multi-VAE 5 epochs (default 200)"
else
    pretrain_epochs=1
    finetune_epochs=15
    vae_epochs=()
fi
popular=beauty-most-popular$RUN_TAG
vae=beauty-multivae$RUN_TAG
cllm=beauty-cllm4rec-cpu$RUN_TAG

prepare beauty
ARTIFACTS+=(data/beauty)
stage "train-baseline most-popular" llmrec train-baseline --dataset beauty --model most-popular --run-id "$popular"
stage "train-baseline multivae" llmrec train-baseline --dataset beauty --model multivae "${vae_epochs[@]}" \
    --run-id "$vae" --resume
stage "train-cllm4rec (CPU recipe)" llmrec train-cllm4rec --dataset beauty --backbone tiny-gpt2:2:256 --stage all \
    --warmup-epochs 0 --pretrain-epochs "$pretrain_epochs" --finetune-epochs "$finetune_epochs" \
    --no-content-in-finetune --batch-size 64 --lr-finetune 1e-3 --run-id "$cllm" --resume
finish
