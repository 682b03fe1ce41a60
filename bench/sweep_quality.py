"""Search quality: sluice's TPE sampler against Optuna 3.1's TPESampler on Branin,
Hartmann-6, Rosenbrock (4-d), a noisy 4-d sphere and a mixed space (log, int, choice).

Both run the same functions, spaces, budgets and seeds (sluice in process through
sluice_bench_tpe_quality, Optuna through bench/tpe_peer.py). For each objective and
budget: the median over seeds of the best value found (for the noisy one, the true value
of the point that looked best), its regret over the known optimum, the ratio of median
regrets (sluice / Optuna, below 1 is better) and the probability that a sluice seed beats
an Optuna seed (Mann-Whitney U / n^2; 0.5 is a tie).

    /usr/bin/python3 bench/sweep_quality.py [--build build] [--seeds 20]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

OPTIMUM = {"branin": 0.397887, "hartmann6": -3.32237, "rosenbrock4": 0.0, "noisy_sphere4": 0.0, "mixed": 0.0}


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--seeds", type=int, default=20)
    # Seeds 1-30 served to choose the sampler's defaults; report on others.
    ap.add_argument("--first-seed", type=int, default=1001)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    t0 = time.perf_counter()
    ours = run([os.path.join(args.build, "bin", "sluice_bench_tpe_quality"), str(args.seeds), "100", "multivariate",
                "24", "0.05", str(args.first_seed)])
    t1 = time.perf_counter()
    peer = run([sys.executable, os.path.join(here, "tpe_peer.py"), str(args.seeds), "100", str(args.first_seed)])
    t2 = time.perf_counter()
    print(f"{args.seeds} seeds (from {args.first_seed}) x 100 trials per objective; sampler time: sluice {t1 - t0:.1f} s, "
          f"Optuna {t2 - t1:.1f} s")
    print(f"{'objective':14s} {'trials':>6s} {'sluice':>10s} {'optuna':>10s} {'regret ratio':>13s} "
          f"{'P(sluice better)':>17s}")
    ratios = []
    for objective in OPTIMUM:
        for budget in ("best50", "best100"):
            a = [r[budget] for r in ours if r["objective"] == objective]
            b = [r[budget] for r in peer if r["objective"] == objective]
            ma, mb = statistics.median(a), statistics.median(b)
            ra, rb = ma - OPTIMUM[objective], mb - OPTIMUM[objective]
            ratio = ra / rb if rb > 0 else float("nan")
            ratios.append(ratio)
            wins = sum((x < y) + 0.5 * (x == y) for x in a for y in b) / (len(a) * len(b))
            print(f"{objective:14s} {budget[4:]:>6s} {ma:10.4f} {mb:10.4f} {ratio:13.2f} {wins:17.2f}")
    print(f"geometric mean regret ratio (sluice / Optuna): "
          f"{statistics.geometric_mean([r for r in ratios if r == r and r > 0]):.2f}")


if __name__ == "__main__":
    main()
