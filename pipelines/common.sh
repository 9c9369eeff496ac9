# shellcheck shell=bash
# Sourced by every pipeline script: settings, the `llmrec` wrapper, timing and the shared training helpers.
#
# Settings (environment variables, all optional):
#   WORKDIR  artifact folder (default llmrec-work)         PYTHON  interpreter with llmrec installed (python3)
#   SHARED   folder holding the datasets (../shared/data)   SEEDS   training seeds ("1 2 3"; "1" when QUICK=1)
#   QUICK    1 = the reduced set of reproduce-quick (0)
#   LLMREC_ARGS  global options for every llmrec command ("--device cuda")
#   EXPERIMENT   the experiment every run is recorded in (default: the script's name; reproduce.sh sets reproduce or
#                reproduce-quick): evaluate, check and report cover that experiment's runs only
#   PROFILE_ARGS options for `llmrec profile` when profiles must be written ("--backend openai --base-url URL ...")
#   SHIPPED_PROFILES  0 = write profiles with `llmrec profile` even where the repository ships them (1)
# Every stage skips itself ("up to date") when its inputs and options are unchanged, so rerunning a pipeline
# after an interruption only redoes what is missing; training runs are started with --resume for the same reason.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Paths given by the caller are relative to where they ran the script; the defaults to the repository root,
# where the scripts run (datasets/, prompts/ and configs/ are read from there).
WORKDIR=$(realpath -m "${WORKDIR:-$ROOT/llmrec-work}")
SHARED=$(realpath -m "${SHARED:-$ROOT/../shared/data}")
PYTHON=${PYTHON:-python3}
cd "$ROOT"
QUICK=${QUICK:-0}
if [[ $QUICK != 0 && $QUICK != 1 ]]; then
    echo "error: QUICK=$QUICK: set QUICK=0 (full) or QUICK=1 (reduced set)" >&2
    exit 2
fi
# The quick set trains one seed. RLMRec runs keep the full set's options (early stopping included: patience 3
# stopped demo runs at their first validation), so a later full reproduction in the same workdir reuses them; runs
# whose budget QUICK cuts (CLLM4Rec, Multi-VAE) carry RUN_TAG in their id instead, so neither overwrites the other.
# shellcheck disable=SC2034  # RUN_TAG is read by the scripts that source this file
if [[ $QUICK == 1 ]]; then
    SEEDS=${SEEDS:-1}
    RUN_TAG=-quick
else
    SEEDS=${SEEDS:-1 2 3}
    RUN_TAG=
fi
export WORKDIR PYTHON SHARED SEEDS QUICK

# Threads: one per llmrec process unless the caller set OMP_NUM_THREADS. torch's default (one thread per core) lets a
# process's threads wait on each other whenever anything else runs on the machine: a CLLM4Rec finetuning pass took
# 199 s with 2 threads against 28 s with 1 on a busy 2-core machine. OMP_NUM_THREADS=2 (or more) overrides it.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

# LLMREC_ARGS: global options for every llmrec command, e.g. LLMREC_ARGS="--device cuda".
read -ra LLMREC_GLOBAL <<<"${LLMREC_ARGS:-}"
EXPERIMENT=${EXPERIMENT:-$(basename "$0" .sh)}
export EXPERIMENT
LLMREC_GLOBAL+=(--experiment "$EXPERIMENT")

llmrec() {
    "$PYTHON" -m llmrec_cli.cli --workdir "$WORKDIR" "${LLMREC_GLOBAL[@]}" "$@"
}

# stage TITLE COMMAND...: run one step between a header and a footer with its wall and CPU time. CPU time
# (user + sys of all child processes) says what the step costs on an idle machine when this one is shared.
stage() {
    local title=$1
    shift
    printf '\n==> %s\n' "$title"
    local TIMEFORMAT="<== $title: %0R s wall, %0U s user + %0S s sys CPU"
    time "$@"
}

note() {
    printf '\n--- note: %s\n' "$*"
}

# train DATASET BACKBONE ALIGN EMBEDDINGS SEED [w0]: train one RLMRec run, or find it up to date, under the
# default run id train-rlmrec gives it (dataset-backbone-align[-embeddings][-w0]-sSEED), so that two pipelines asking
# for the same run (noise.sh's clean baseline and real-profiles.sh) share it; the run joins $EXPERIMENT.
# EMBEDDINGS is an embed output folder, or "" for align none. w0 sets the alignment's loss weight to 0
# (--align-weight 0): the variant's settings without its alignment term, a control.
train() {
    local dataset=$1 backbone=$2 align=$3 embeddings=$4 seed=$5 control=${6:-}
    local args=(--dataset "$dataset" --backbone "$backbone" --align "$align" --resume)
    [[ -n $embeddings ]] && args+=(--embeddings "$embeddings")
    [[ $control == w0 ]] && args+=(--align-weight 0)
    stage "train-rlmrec $dataset $backbone $align ${embeddings:+$(basename "$embeddings") }${control:+$control }seed $seed" \
        llmrec --seed "$seed" train-rlmrec "${args[@]}"
}

# Artifact folders a pipeline wrote or used, checked against their schemas by finish at its end.
ARTIFACTS=()

# finish: evaluate the experiment's runs (each one skips itself when already evaluated), then check them and every
# other artifact folder the pipeline wrote or used.
finish() {
    stage "evaluate experiment $EXPERIMENT" llmrec evaluate
    stage "check the runs of $EXPERIMENT and ${#ARTIFACTS[@]} artifact folders" llmrec check "${ARTIFACTS[@]}"
}

# embeddings_dir DATASET [NAME]: where `llmrec embed` writes the local encoder's embeddings of the dataset's
# profiles (NAME, e.g. a shuffled control, defaults to the encoder's).
embeddings_dir() {
    printf '%s/embeddings/%s/%s' "$WORKDIR" "$1" "${2:-all-minilm-l6-v2}"
}

# prepare DATASET [OPTION...]: prepare a recipe dataset, read from $SHARED unless it ships with the repository.
prepare() {
    local dataset=$1
    shift
    local source=()
    case $dataset in
        demo) ;;
        steam-text) source=(--source "$SHARED/steam") ;;
        *) source=(--source "$SHARED/$dataset") ;;
    esac
    stage "prepare $dataset${*:+ $*}" llmrec prepare --dataset "$dataset" "${source[@]}" "$@"
}

# The profiles of a dataset: the folder shipped in datasets/<ds>/profiles/<prompt-id> when the repository has it,
# else the workdir's, written by `llmrec profile` (the local LLM: hours of CPU for steam-text, resumable).
# PROFILE_ARGS adds options to that command, e.g. PROFILE_ARGS="--backend openai --base-url URL --model NAME".
prompt_id() {
    case $1 in
        steam-text) printf 'steam@1' ;;
        *) printf '%s@1' "$1" ;;
    esac
}

profiles_dir() {
    local shipped
    shipped="datasets/$1/profiles/$(prompt_id "$1")"
    if [[ ${SHIPPED_PROFILES:-1} == 1 && -f $shipped/users.parquet ]]; then
        printf '%s' "$shipped"
    else
        printf '%s/profiles/%s/%s' "$WORKDIR" "$1" "$(prompt_id "$1")"
    fi
}

ensure_profiles() {
    local dataset=$1 folder
    folder=$(profiles_dir "$dataset")
    if [[ $folder == datasets/* ]]; then
        note "using the shipped profiles $folder"
        return
    fi
    local extra=() partial
    read -ra extra <<<"${PROFILE_ARGS:-}"
    # a shipped folder holding only answers.parquet is a run carried part of the way: resume from it
    partial="datasets/$dataset/profiles/$(prompt_id "$dataset")"
    if [[ -f $partial/answers.parquet ]]; then
        extra+=(--resume-from "$partial")
    fi
    stage "profile $dataset" llmrec profile --dataset "$dataset" --prompt "$(prompt_id "$dataset")" "${extra[@]}"
}

# embed_profiles DATASET: profiles (shipped or written now), then their embeddings with the local encoder; `embed`
# copies the repository's shipped vectors instead of encoding when their manifest shows they embedded these profiles.
embed_profiles() {
    local dataset=$1 profiles shipped reuse=()
    ensure_profiles "$dataset"
    profiles=$(profiles_dir "$dataset")
    shipped="datasets/$dataset/embeddings/all-minilm-l6-v2"
    if [[ -f $shipped/manifest.json ]]; then
        reuse=(--reuse "$shipped")
    fi
    stage "embed $dataset" llmrec embed --dataset "$dataset" --profiles "$profiles" "${reuse[@]}"
    ARTIFACTS+=("$profiles" "$(embeddings_dir "$dataset")")
}

# The dataset of the real-profile and noise experiments. Full runs default to steam-text (profiling it with the
# local LLM takes hours when its profiles are not shipped). The quick set only takes steam-text when its profiles
# are shipped, and the demo otherwise, so that it never starts an hours-long profiling job.
default_profile_dataset() {
    if [[ $QUICK == 1 && ! -f datasets/steam-text/profiles/steam@1/users.parquet ]]; then
        printf 'demo'
    else
        printf 'steam-text'
    fi
}
PROFILE_DATASET=${PROFILE_DATASET:-$(default_profile_dataset)}
export PROFILE_DATASET

# rlmrec_profiles_embeddings DATASET: import RLMRec's own GPT-3.5 profiles of DATASET ($SHARED/<ds>/profiles, every
# user and item of Amazon-book) and embed them with the local encoder; sets RLMREC_PROFILES and RLMREC_EMBEDDINGS.
rlmrec_profiles_embeddings() {
    local dataset=$1
    RLMREC_PROFILES=$WORKDIR/profiles/$dataset/rlmrec-gpt35
    RLMREC_EMBEDDINGS=$WORKDIR/embeddings/$dataset/all-minilm-l6-v2
    stage "import RLMRec's profiles of $dataset" llmrec profile --dataset "$dataset" --import "$SHARED/$dataset/profiles" \
        --model "gpt-3.5-turbo (RLMRec)" --name rlmrec-gpt35
    stage "embed $dataset" llmrec embed --dataset "$dataset" --profiles "$RLMREC_PROFILES"
    ARTIFACTS+=("$RLMREC_PROFILES" "$RLMREC_EMBEDDINGS")
}
