#!/usr/bin/env bash
# Does a change slow training down? Runs the quick-start pipeline with two builds of
# sluice, interleaved (these machines are noisy), and prints the trainer's samples/s and
# the whole run's wall time for each, with the medians of the per-round ratios.
#
#   git worktree add /tmp/base <commit> && cmake -S /tmp/base -B /tmp/base/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/base/build --target runtime
#   bench/compare_builds.sh /tmp/base/build build [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
base=$1 head=$2 rounds=${3:-6}
pipeline=pipelines/fashion_mnist_mlp.toml
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
  for side in base head; do
    build=$base
    [ "$side" = head ] && build=$head
    store=$(mktemp -d)
    start=$(date +%s.%N)
    out=$("$build/bin/sluice" run "$pipeline" --store "$store" --json --quiet)
    end=$(date +%s.%N)
    rm -rf "$store"
    echo "$out" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)["metrics"]
print(sys.argv[1], sys.argv[2], m["train.samples_per_sec"], m["eval.accuracy"], float(sys.argv[4]) - float(sys.argv[3]))
' "$round" "$side" "$start" "$end" | tee -a "$results"
  done
done
/usr/bin/python3 - "$results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
side = {s: [r for r in rows if r[1] == s] for s in ("base", "head")}
for s, rs in side.items():
    print(f"{s}: trainer {statistics.median(float(r[2]) for r in rs):,.0f} samples/s, "
          f"wall {statistics.median(float(r[4]) for r in rs):.2f} s, accuracy {rs[0][3]} (medians)")
ratio = lambda k: statistics.median(float(h[k]) / float(b[k]) for b, h in zip(side["base"], side["head"]))
print(f"head / base, median of per-round ratios: throughput {ratio(2):.3f}, wall {ratio(4):.3f}")
PY
