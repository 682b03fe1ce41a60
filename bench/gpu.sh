#!/usr/bin/env bash
# The CNN pipeline on a CUDA GPU, with mixed precision, against the same pipeline on the
# CPU. For the day a machine with an NVIDIA GPU and a CUDA build of LibTorch 2.x (for
# example the one inside a pip-installed PyTorch) is at hand:
#
#   bench/gpu.sh [EPOCHS]
#
# It finds LibTorch ($Torch_DIR, else the Python torch package's CMake prefix), builds
# Sluice against it in build-gpu/, runs pipelines/fashion_mnist_cnn.toml on cuda with
# fp32, bf16 and fp16 (loss scaling), data-parallel over 2 ranks (NCCL, or Gloo where they
# share one GPU), and for one epoch on the CPU, and prints the
# trainer's throughput, test accuracy and the speedup over the CPU.
# Fashion-MNIST comes from Debian's dataset-fashion-mnist, or $FASHION_MNIST_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-2}
python=${PYTHON:-python3}

# --- LibTorch with CUDA ------------------------------------------------------------
if [ -z "${Torch_DIR:-}" ]; then
  prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null) || {
    echo "gpu.sh: no LibTorch: set Torch_DIR, or install PyTorch for $python" >&2; exit 2; }
  Torch_DIR="$prefix/Torch"
fi
cuda_ok=$("$python" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 1)
[ "$cuda_ok" = 1 ] || { echo "gpu.sh: PyTorch sees no CUDA device here" >&2; exit 2; }

# --- The other build dependencies (Debian package names) ---------------------------
need=()
[ -e /usr/include/toml++/toml.h ] || need+=(libtomlplusplus-dev)
[ -e /usr/include/boost/program_options.hpp ] || need+=(libboost-program-options-dev)
[ -e /usr/include/boost/dll.hpp ] || need+=(libboost-dev)
[ -e /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
[ -e /usr/include/nlohmann/json.hpp ] || need+=(nlohmann-json3-dev)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
command -v cmake >/dev/null || need+=(cmake)
command -v ninja >/dev/null || need+=(ninja-build)
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
[ -e "$data/t10k-images-idx3-ubyte.gz" ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"
  else
    echo "gpu.sh: missing: ${need[*]} (Debian package names; install them, or set FASHION_MNIST_DIR)" >&2
    exit 2
  fi
fi

# --- Build ---------------------------------------------------------------------------
cuda_root=${CUDA_HOME:-/usr/local/cuda}
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF \
  -DTorch_DIR="$Torch_DIR" -DCUDAToolkit_ROOT="$cuda_root" -DCMAKE_CUDA_COMPILER="$cuda_root/bin/nvcc" \
  -DCMAKE_CUDA_ARCHITECTURES=native
cmake --build build-gpu

# --- Runs ------------------------------------------------------------------------------
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
sluice="build-gpu/bin/sluice"
run() {  # run LABEL SET...
  local label=$1; shift
  local out
  out=$(SLUICE_STORE="$store" "$sluice" run pipelines/fashion_mnist_cnn.toml --json --quiet \
        --set "data.dir=\"$data\"" --set 'train.early_stopping="none"' "$@")
  local id
  id=$("$python" -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$out")
  SLUICE_STORE="$store" "$sluice" runs show "$id" --json | "$python" -c '
import json, sys
run = json.load(sys.stdin)
label = sys.argv[1]
if run["status"] != "succeeded":
    sys.exit(f"{label}: {run[\"status\"]}: {run[\"error\"]}")
m = run["metrics"]
env = run["environment"]
where = env.get("device", "?") + (f" ({env[\"world_size\"]} ranks, {env[\"dist_backend\"]})" if "dist_backend" in env else "")
print(f"{label}\t{m[\"train.samples_per_sec\"]:.0f}\t{m[\"eval.accuracy\"]:.4f}\t{where}")
' "$label"
}
{
  run "cpu fp32 (1 epoch)" --set 'train.device="cpu"' --set "train.epochs=1"
  for precision in fp32 bf16 fp16; do
    run "cuda $precision" --set 'train.device="cuda"' --set "train.precision=\"$precision\"" --set "train.epochs=$epochs"
  done
  # Data-parallel: NCCL where the host has a GPU per rank, else the ranks share GPU 0 over Gloo.
  run "cuda fp32, 2 ranks" --set 'train.device="cuda"' --set "train.epochs=$epochs" --nproc 2
} | tee "$store/results.tsv"
"$python" - "$store/results.tsv" <<'PY'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
cpu = float(rows[0][1])
print("\nfashion_mnist_cnn.toml: trainer throughput (last epoch), test accuracy, speedup over the CPU")
for label, sps, acc, device in rows:
    print(f"  {label:22} {float(sps):10.0f} samples/s   acc {acc}   {float(sps) / cpu:6.1f}x   on {device}")
PY
