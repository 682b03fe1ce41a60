"""Optuna 3.1's TPESampler (Debian's python3-optuna) on the objectives of
bench/tpe_quality.cpp: the same functions, spaces, noise and budgets. One JSON line per
objective and seed, like the C++ side. Run by bench/sweep_quality.py."""
import json
import math
import sys

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def branin(t):
    x, y = t.suggest_float("x1", -5, 10), t.suggest_float("x2", 0, 15)
    b, c, s = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - s) * math.cos(x) + 10


A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(t):
    x = [t.suggest_float(f"x{j}", 0, 1) for j in range(6)]
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6))) for i in range(4))


def rosenbrock4(t):
    x = [t.suggest_float(f"x{j}", -2, 2) for j in range(4)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))


def noisy_sphere4(t):
    return sum((t.suggest_float(f"x{j}", -1, 1) - 0.3) ** 2 for j in range(4))


OFFSET = {"relu": 0.3, "tanh": 0.0, "gelu": 0.6, "sigmoid": 1.5}


def mixed(t):
    lr = t.suggest_float("lr", 1e-5, 1, log=True)
    layers = t.suggest_int("layers", 1, 10)
    dropout = t.suggest_float("dropout", 0, 0.8)
    act = t.suggest_categorical("act", ["relu", "tanh", "gelu", "sigmoid"])
    return (math.log10(lr) + 2.5) ** 2 + 0.05 * (layers - 4) ** 2 + (dropout - 0.25) ** 2 * 4 + OFFSET[act]


PROBLEMS = [("branin", branin, 0), ("hartmann6", hartmann6, 0), ("rosenbrock4", rosenbrock4, 0),
            ("noisy_sphere4", noisy_sphere4, 0.1), ("mixed", mixed, 0)]


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for name, f, noise in PROBLEMS:
        for seed in range(first, first + seeds):
            rng = np.random.default_rng(seed * 7919)
            truth = {}

            def objective(t):
                v = f(t)
                truth[t.number] = v
                return v + (rng.normal(0, noise) if noise else 0.0)

            study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
            study.optimize(objective, n_trials=trials)
            best = {}
            seen = math.inf
            true_best = math.inf
            for tr in study.trials:
                if tr.value < seen:
                    seen, true_best = tr.value, truth[tr.number]
                if tr.number + 1 == 50:
                    best[50] = true_best
            print(json.dumps({"sampler": "optuna", "objective": name, "seed": seed,
                              "best50": best.get(50, true_best), "best100": true_best}), flush=True)


if __name__ == "__main__":
    main()
