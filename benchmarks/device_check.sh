#!/usr/bin/env bash
# The GPU checks of issue #20 in one short run, for a machine with PyTorch and CUDA but no network: what a GPU
# changes for RLMRec training and evaluation (Amazon-book, every backbone x none/con/gen, 1536-d), cost growth
# (scale.py at 1e5 and 1e6 edges), and the CUDA path of the CLI end to end. CLLM4Rec is not in it: its backbones
# need packages (the GGUF model, openai-whisper's GPT-2 asset) that do not fit beside these in one 64 MiB transfer.
#
# Prepare on a machine with the registry: `bash benchmarks/device_bundle.sh` (fills .device/: the splits and wheels).
# Then, with .device carried beside the working tree, from the repository root:
#
#     bash benchmarks/device_check.sh [SECTION ...]      (default: every section, in the order below)
#
# Sections: env tests cli rlmrec-speed scale-1e5 scale-1e6. Each runs under its own time limit (seconds in LIMITS,
# ~9 min in all), appends its output to OUT/device_check.log (OUT: $OUT where set, else device-results/) and
# prints its tail; one that fails or runs out of time does not stop the others, and the exit status is 1 if any
# did. OUT gets four files (the lent machine returns at most 8): that log, rlmrec_speed_DEVICE.csv and
# scale_1e5.csv / scale_1e6.csv.
# DEVICE=cpu runs the same sections on the CPU, SLACK=N multiplies every limit: a dry run of this script (the
# figures then mean nothing).
set -uo pipefail
out=${OUT:-device-results}
device=${DEVICE:-cuda}
data=.device/data
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD/src
if ! python3 -c 'import polars, typer, jsonschema' 2>/dev/null && compgen -G ".device/wheels/*.whl" >/dev/null; then
    site=$(mktemp -d)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .device/wheels/*.whl ||
        exit 1
    export PYTHONPATH=$PWD/src:$site
fi
declare -A LIMITS=([env]=30 [tests]=90 [cli]=90 [rlmrec-speed]=150 [scale-1e5]=60 [scale-1e6]=120)
ORDER=(env tests cli rlmrec-speed scale-1e5 scale-1e6)
llmrec() { python3 -m llmrec_cli.cli --workdir "$work" --device "$device" "$@"; }

section_env() {
    nvidia-smi || true
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
        torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")'
    nproc
}
section_tests() {  # the CUDA-only test, and the suites of the code that moves to the GPU
    python3 -m pytest -q -p no:cacheprovider tests/evaluate/test_rank.py tests/rlmrec/test_alignments.py
}
section_cli() {  # prepare, Gen and Con for 3 epochs each through the CLI on the device, metrics printed
    work=$(mktemp -d)
    llmrec prepare --dataset amazon-book --source "$data/amazon-book" &&
        llmrec train-rlmrec --dataset amazon-book --backbone lightgcn --align gen --embeddings random:1536 --epochs 3 &&
        llmrec train-rlmrec --dataset amazon-book --backbone lightgcn --align con --embeddings random:1536 --epochs 3 &&
        cat "$work"/runs/*/metrics.json
}
section_rlmrec-speed() {
    python3 benchmarks/rlmrec_speed.py --source "$data/amazon-book" --device "$device" --epochs 2 \
        --csv "$out/rlmrec_speed_$device.csv"
}
scale() {  # scale.py at one size; only its table comes back
    local folder
    folder=$(mktemp -d)
    python3 benchmarks/scale.py --device "$device" --sizes "$1" --out "$folder" &&
        cp "$folder/scale.csv" "$out/scale_$1.csv"
}
section_scale-1e5() { scale 1e5; }
section_scale-1e6() { scale 1e6; }

sections=("$@")
[[ ${#sections[@]} -gt 0 ]] || sections=("${ORDER[@]}")
status=0
for name in "${sections[@]}"; do
    if [[ -z ${LIMITS[$name]:-} ]]; then
        echo "error: unknown section '$name' (sections: ${ORDER[*]})" >&2
        status=2
        continue
    fi
    start=$SECONDS
    limit=$((LIMITS[$name] * ${SLACK:-1}))
    log=$(mktemp)
    timeout "$limit" bash -c "$(declare -f llmrec scale "section_$name"); data=$data device=$device out=$out \
        section_$name" >"$log" 2>&1
    rc=$?
    echo "== $name: rc=$rc in $((SECONDS - start)) s (limit $limit s)" | tee -a "$out/device_check.log"
    cat "$log" >>"$out/device_check.log"
    tail -n 20 "$log"
    [[ $rc == 0 ]] || status=1
done
exit $status
