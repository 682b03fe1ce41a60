#!/usr/bin/python3
"""Golden values for metrics_test.cpp, computed by scikit-learn.

Run with Debian's python3 (python3-sklearn installed) from this folder:
    /usr/bin/python3 make_metrics_golden.py > metrics_golden.json
Each case holds deterministic labels and probabilities and what sklearn says of them.
"""
import json

import numpy as np
import sklearn
from sklearn import metrics
from sklearn.preprocessing import label_binarize


def expected_calibration_error(labels, probs, bins=10):
    """Top-label ECE over equal-width bins (b/B, (b+1)/B]; sklearn has no ECE, so this is
    the reference the C++ is checked against, written independently with numpy."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            ece += m.sum() / len(labels) * abs(correct[m].mean() - conf[m].mean())
    return ece


def case(name, labels, probs):
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    pred = probs.argmax(axis=1)
    out = {
        "name": name,
        "num_classes": k,
        "labels": labels.tolist(),
        "probs": probs.ravel().tolist(),
        "accuracy": metrics.accuracy_score(labels, pred),
        "confusion": metrics.confusion_matrix(labels, pred, labels=list(range(k))).tolist(),
    }
    for avg in ("macro", "weighted"):
        out[f"precision_{avg}"] = metrics.precision_score(labels, pred, average=avg, zero_division=0)
        out[f"recall_{avg}"] = metrics.recall_score(labels, pred, average=avg, zero_division=0)
        out[f"f1_{avg}"] = metrics.f1_score(labels, pred, average=avg, zero_division=0)
    if k == 2:
        out["roc_auc"] = metrics.roc_auc_score(labels, probs[:, 1])
        out["pr_auc"] = metrics.average_precision_score(labels, probs[:, 1])
    else:
        out["roc_auc"] = metrics.roc_auc_score(labels, probs, multi_class="ovr", average="macro")
        out["pr_auc"] = metrics.average_precision_score(label_binarize(labels, classes=list(range(k))), probs,
                                                        average="macro")
    out["calibration_error"] = expected_calibration_error(labels, probs)
    out["log_loss"] = metrics.log_loss(labels, probs, labels=list(range(k)))
    return out


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


rng = np.random.default_rng(20261128)
cases = []

# Ten classes, a realistic classifier: logits correlated with the label.
n, k = 1000, 10
y = rng.integers(0, k, n)
logits = rng.normal(size=(n, k)) + 2.5 * np.eye(k)[y]
cases.append(case("multiclass_10", y, softmax(logits)))

# Binary, imbalanced (about 15% positives).
n = 800
y = (rng.random(n) < 0.15).astype(np.int64)
score = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.8 * y - 1.0)))
cases.append(case("binary_imbalanced", y, np.stack([1 - score, score], axis=1)))

# Tied scores: probabilities rounded to one decimal, so the ROC has ties.
n, k = 600, 4
y = rng.integers(0, k, n)
p = softmax(rng.normal(size=(n, k)) + 1.0 * np.eye(k)[y])
p = np.round(p, 1) + 1e-3
p = p / p.sum(axis=1, keepdims=True)
cases.append(case("ties_4", y, p))

# A class that is never predicted (precision is 0 by sklearn's zero_division), and
# probabilities of exactly 0 and 1 (log loss clips them).
y = np.array([0, 0, 1, 1, 2, 2, 2, 0])
p = np.array([[1.0, 0.0, 0.0], [0.6, 0.1, 0.3], [0.2, 0.3, 0.5], [0.0, 0.4, 0.6],
              [0.1, 0.1, 0.8], [0.0, 0.0, 1.0], [0.3, 0.3, 0.4], [0.5, 0.2, 0.3]])
cases.append(case("never_predicted", y, p))

def regression(name, y, p):
    return {
        "name": name,
        "targets": list(map(float, y)),
        "predictions": list(map(float, p)),
        "mse": metrics.mean_squared_error(y, p),
        "rmse": metrics.mean_squared_error(y, p, squared=False),
        "mae": metrics.mean_absolute_error(y, p),
        "r2": metrics.r2_score(y, p),
    }


y = rng.normal(10, 3, 500)
regressions = [
    regression("noisy_linear", y, y + rng.normal(0, 1.5, 500)),
    regression("constant_target_exact", np.full(5, 2.0), np.full(5, 2.0)),
    regression("constant_target_off", np.full(5, 2.0), np.array([2.0, 2.5, 1.0, 2.0, 3.0])),
]

print(json.dumps({"sklearn": sklearn.__version__, "cases": cases, "regression": regressions}))
