# Everything installs into the current Python interpreter (use a virtualenv of your own if you prefer:
# `python3 -m venv .venv && . .venv/bin/activate` before `make setup`). torch is pinned to 2.13.0 in the same pip
# command so that pip takes the CPU build here instead of pulling gigabytes of CUDA packages.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
TORCH := torch==2.13.0
WORKDIR ?= llmrec-work
SHARED ?= ../shared/data
LLMREC := $(PYTHON) -m llmrec_cli.cli --workdir $(WORKDIR)

.PHONY: setup setup-test demo test bench-prepare bench-rlmrec-speed bench-rlmrec-quality clean

setup:
	$(PIP) install -q $(TORCH) -e .

setup-test:
	@$(PYTHON) -c "import llmrec_cli, pytest, torch" 2>/dev/null || $(PIP) install -q $(TORCH) -e '.[test]'

demo: setup-test
	$(LLMREC) prepare --dataset demo
	$(LLMREC) train-rlmrec --dataset demo --backbone lightgcn --run-id demo-lightgcn
	$(LLMREC) evaluate demo-lightgcn

test: setup-test
	$(PYTHON) -m pytest

bench-prepare: setup-test
	$(PYTHON) benchmarks/prepare_scale.py

bench-rlmrec-speed: setup-test
	$(PYTHON) benchmarks/rlmrec_speed.py --source $(SHARED)/amazon-book

bench-rlmrec-quality: setup-test
	$(PYTHON) benchmarks/rlmrec_quality.py --source $(SHARED)/amazon-book --workdir $(WORKDIR)

clean:
	rm -rf $(WORKDIR) .pytest_cache
