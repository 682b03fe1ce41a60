#!/usr/bin/python3
"""Start-up benchmarks: median wall time of the commands that do not train, against a
program that only links LibTorch and makes one tensor (what each would cost if the host
linked LibTorch), and the host's own cost in `sluice run` before the first stage.

Usage: bench/startup.py [--build build] [--repeats 30]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_ms(argv, env, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1000)
        if r.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({r.returncode})")
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    sluice = os.path.join(args.build, "bin", "sluice")
    pipeline = os.path.join(ROOT, "pipelines", "fashion_mnist_mlp.toml")
    store = tempfile.mkdtemp(prefix="sluice-bench-")
    env = dict(os.environ, SLUICE_STORE=store)
    # A store with some history to list.
    for seed in range(20):
        subprocess.run([sluice, "run", pipeline, "--quiet", "--set", f"pipeline.seed={seed}", "--set", "data.limit=2000",
                        "--set", "data.test_limit=500", "--set", "train.epochs=1"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_id = subprocess.run([sluice, "runs", "list", "--csv", "--limit", "1"], env=env, capture_output=True,
                            text=True).stdout.splitlines()[1].split(",")[0]

    hello = median_ms([os.path.join(args.build, "bin", "sluice_bench_torch_hello")], env, args.repeats)
    commands = {
        "sluice validate (quick-start file)": [sluice, "validate", pipeline],
        "sluice plugins list": [sluice, "plugins", "list"],
        "sluice plugins show trainer": [sluice, "plugins", "show", "trainer"],
        "sluice runs list (20 runs)": [sluice, "runs", "list"],
        "sluice runs show RUN": [sluice, "runs", "show", run_id],
        "sluice runs metrics RUN train.loss": [sluice, "runs", "metrics", run_id, "train.loss", "--json"],
    }
    print(f"median of {args.repeats} runs, wall time")
    print(f"  {'LibTorch floor (link it, make one tensor)':44}{hello:8.1f} ms")
    for label, argv in commands.items():
        ms = median_ms(argv, env, args.repeats)
        print(f"  {label:44}{ms:8.1f} ms   {hello / ms:6.1f}x faster than the floor   (target < 50 ms)")

    # sluice run: phases from SLUICE_TIMINGS (ms since the process started).
    own, loads = [], []
    for seed in range(max(5, args.repeats // 3)):
        r = subprocess.run([sluice, "run", pipeline, "--quiet", "--set", "train.epochs=1", "--set", "data.limit=1000",
                            "--set", "data.test_limit=200"], env=dict(env, SLUICE_TIMINGS="1"),
                           capture_output=True, text=True, check=True)
        phases = {k: float(v) for k, v in re.findall(r" (\w+) ([\d.]+)", r.stderr.split("timings")[1].splitlines()[0])}
        load = phases["plugins_loaded"] - phases["recorded"]
        loads.append(load)
        own.append(phases["first_stage"] - load)
    print(f"  {'sluice run: start to first stage, minus plugin+LibTorch loading':64}{statistics.median(own):6.1f} ms"
          f"   (target < 100 ms)")
    print(f"  {'sluice run: loading the plugins (LibTorch with them)':64}{statistics.median(loads):6.1f} ms")


if __name__ == "__main__":
    main()
