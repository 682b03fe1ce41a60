#!/usr/bin/env bash
# Every benchmark, in one go, on a Release build (tools/setup --bench first).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
echo "### metric logging"; "$build/bin/sluice_bench_metric_logging"
echo; echo "### SHA-256 (verifying artifacts and bundles)"; "$build/bin/sluice_bench_digest"
echo; echo "### start-up"; /usr/bin/python3 bench/startup.py --build "$build"
echo; echo "### training"; /usr/bin/python3 bench/training.py --build "$build"
echo; echo "### models (CNN training, predict)"; /usr/bin/python3 bench/models.py --build "$build"
echo; echo "### sweep search quality"; /usr/bin/python3 bench/sweep_quality.py --build "$build"
echo; echo "### sweep overhead"; /usr/bin/python3 bench/sweep_overhead.py --build "$build"
echo; echo "### sweep overhead on PostgreSQL"; /usr/bin/python3 bench/sweep_postgres.py --build "$build"
echo; echo "### sweep with ASHA"; /usr/bin/python3 bench/sweep_asha.py --build "$build"
echo; echo "### data-parallel scaling"; /usr/bin/python3 bench/distributed.py --build "$build"
echo; echo "### text: quality"; /usr/bin/python3 bench/text_quality.py "$build"
echo; echo "### text: fine-tuning throughput"; /usr/bin/python3 bench/text_training.py "$build"
echo; echo "### inference (predict and serve's path)"; /usr/bin/python3 bench/inference.py "$build"
echo; echo "### serving under load"; /usr/bin/python3 bench/serve.py "$build"
echo; echo "### sluice ui at scale"; /usr/bin/python3 bench/ui_scale.py "$build"
echo; echo "### sluice ui and MLflow's UI"; /usr/bin/python3 bench/ui_mlflow.py "$build"
