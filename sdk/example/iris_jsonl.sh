#!/bin/sh
# Writes iris.jsonl (Fisher's iris, from Weka's iris.arff that tools/setup installs) for
# iris_jsonl.toml: one JSON object per line.
#   sdk/example/iris_jsonl.sh [OUTPUT]     (default: iris.jsonl beside this script)
set -eu
out=${1:-$(dirname "$0")/iris.jsonl}
arff=$(sluice data find weka/examples/iris.arff)
awk -F, 'BEGIN { data = 0 }
  /^@[Dd][Aa][Tt][Aa]/ { data = 1; next }
  data && NF == 5 {
    printf "{\"sepallength\": %s, \"sepalwidth\": %s, \"petallength\": %s, \"petalwidth\": %s, \"class\": \"%s\"}\n",
      $1, $2, $3, $4, $5
  }' "$arff" > "$out.partial"
mv "$out.partial" "$out"
echo "wrote $(wc -l < "$out") records to $out"
