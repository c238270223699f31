#!/usr/bin/env bash
# Simulate the README's GitHub Actions job on this machine and time its steps:
#   1. a fresh clone with empty caches (HOME is a new folder): make setup, train --if-missing,
#      pytest -m jarvis --jarvis-require-baseline;
#   2. a second fresh clone with what actions/cache restores (~/.cache/jarvis-evals and output/).
# usage: bash benchmarks/github_job.sh [REPO (default: this clone)] [WORK (default: a new temp folder)]
set -uo pipefail
repo=$(cd "${1:-$(dirname "$0")/..}" && pwd)
work=${2:-$(mktemp -d -t jarvis-job-XXXX)}
export HOME="$work/home"
mkdir -p "$HOME"
step() { local s; s=$(date +%s); "$@"; local rc=$?; echo "== rc=$rc $(( $(date +%s) - s )) s: $*"; return $rc; }
job() {
    step make setup && step .venv/bin/jarvis-evals train --if-missing \
        && step .venv/bin/python -m pytest -m jarvis --jarvis-require-baseline
}
git clone -q "$repo" "$work/first" && cd "$work/first" && job || exit 1
echo "== second run: a fresh clone, the cache restored"
git clone -q "$repo" "$work/second" && cp -a "$work/first/output" "$work/second/" && cd "$work/second" && job || exit 1
python3 -c "import json; m = json.load(open('reports/benchmark_results.json'))['metadata']; \
print('== second run: answers from cache', m['n_cached_answers'], '| generate calls', m['n_generate_calls'])"
echo "== job passed twice (work folder: $work)"
