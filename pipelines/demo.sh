#!/usr/bin/env bash
# The demo end to end on the shipped data: prepare, profiles (shipped, else the local LLM), embeddings, LightGCN
# base / RLMRec-Con / RLMRec-Gen over DEMO_SEEDS, the semantic-only baseline, evaluation, a schema check of every
# artifact, and a closing summary (base vs each variant against the seed noise, where things are, what to try next).
#   DEMO_SEEDS   training seeds (default "1 2 3", whatever SEEDS or QUICK say: the demo's runs take seconds)
#   DEMO_REPORT  also write `llmrec report` there (make demo: reports/demo); unset, no report (reproduce.sh writes one)
# The demo recipe's training settings (min_epochs) are in configs/rlmrec/common.toml [train.demo]. Other settings:
# see pipelines/common.sh.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

read -ra demo_seeds <<<"${DEMO_SEEDS:-1 2 3}"
prepare demo
ARTIFACTS+=(data/demo)
embed_profiles demo
embeddings=$(embeddings_dir demo)

for seed in "${demo_seeds[@]}"; do
    train demo lightgcn none "" "$seed"
    train demo lightgcn con "$embeddings" "$seed"
    train demo lightgcn gen "$embeddings" "$seed"
done
train demo semantic none "$embeddings" "${demo_seeds[0]}"  # no training: every seed gives the same ranking

finish
summary=(--workdir "$WORKDIR" --embeddings "$embeddings")
if [[ -n ${DEMO_REPORT:-} ]]; then
    stage "report demo" llmrec report --name demo --out "$DEMO_REPORT"
    summary+=(--report "$DEMO_REPORT")
fi
printf '\n'
"$PYTHON" -m llmrec_cli.report.demo_summary "${summary[@]}" --experiment "$EXPERIMENT" --dataset demo
# the steps' CPU time (user + sys of every finished child, /proc/PID/stat fields 16-17) is what the demo costs on an
# idle machine, whatever this one's load
read -ra stat </proc/$$/stat
read -r load _ </proc/loadavg
printf '\ndemo: %d s wall, %d s CPU (user + sys of every step); load average %s\n' "$SECONDS" \
    $(((stat[15] + stat[16]) / $(getconf CLK_TCK))) "$load"
