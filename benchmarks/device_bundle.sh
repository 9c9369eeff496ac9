#!/usr/bin/env bash
# Fills .device/ (ignored by git) for benchmarks/device_check.sh, on the machine with the repository and the
# package registry: the Amazon-book split, and wheels of the packages a GPU image with PyTorch usually
# lacks (CPython 3.12, manylinux x86-64), at the versions installed here. Carry .device to the GPU machine with the
# working tree; device_check.sh installs the wheels into a temporary folder there, never into its Python.
#
#     bash benchmarks/device_bundle.sh [FOLDER_WITH_THE_DATASETS]     (default ../shared/data)
set -euo pipefail
data=${1:-../shared/data}
bundle=.device
if [[ ! -f $data/amazon-book/train.parquet ]]; then
    echo "error: no $data/amazon-book/train.parquet: give the folder that holds the amazon-book split" >&2
    exit 2
fi
rm -rf "$bundle.tmp" && mkdir -p "$bundle.tmp/data" "$bundle.tmp/wheels"
mkdir -p "$bundle.tmp/data/amazon-book"  # the split's Parquet files only (all that travels must fit in 64 MiB)
cp "$data/amazon-book"/*.parquet "$bundle.tmp/data/amazon-book/"
pinned() {  # NAME==VERSION of each installed distribution named
    python3 -c 'import sys, importlib.metadata as m; print(" ".join(f"{n}=={m.version(n)}" for n in sys.argv[1:]))' "$@"
}
# polars and its runtime; typer at our version, with pydantic; jsonschema and what it needs beyond attrs
# shellcheck disable=SC2046
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$bundle.tmp/wheels" $(pinned polars polars-runtime-32 typer pydantic pydantic-core annotated-types \
        typing-inspection jsonschema jsonschema-specifications referencing rpds-py)
rm -rf "$bundle" && mv "$bundle.tmp" "$bundle"
du -sh "$bundle" "$bundle"/wheels/*.whl
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
echo "travels: $(((tree + $(du -sb "$bundle" | cut -f1)) / 1048576)) MiB of the 64 allowed (tracked files + $bundle)"
