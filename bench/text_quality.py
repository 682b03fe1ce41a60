"""Reuters-21578 Grain (ReutersGrain-train -> ReutersGrain-test, 604 stories, 57 about
grain): macro-F1 and the positive class's F1 of Sluice's fine-tuned all-MiniLM-L6-v2
beside TF-IDF + logistic regression (scikit-learn), with all training labels and with 100.
(The same architecture from scratch, fastText and the pre-trained encoder are still to come.) Sluice's runs use pipelines/reuters_grain_minilm.toml
(`--set` for the subset); the baselines use Debian's sklearn.

  /usr/bin/python3 bench/text_quality.py [BUILD] [--labels all,100] [--epochs N]

The 100-label subsets are each side's own seeded, stratified draw of 100 training stories
(the text plugin's `train_examples`, sklearn's StratifiedShuffleSplit), not the same 100.
"""
import argparse
import json
import os
import re
import subprocess
import tempfile

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedShuffleSplit

DATA = "/usr/local/share/sluice/data/weka/examples"


def arff(name):
    texts, labels = [], []
    for line in open(f"{DATA}/{name}.arff", encoding="utf-8"):
        m = re.match(r"^'(.*)',(\d)\s*$", line)
        if m:
            texts.append(m.group(1).replace("\\n", "\n").replace("\\'", "'"))
            labels.append(int(m.group(2)))
    return texts, labels


def tfidf_lr(train, test, n):
    x, y = train
    if n:
        idx, _ = next(StratifiedShuffleSplit(n_splits=1, train_size=n, random_state=7).split(x, y))
        x, y = [x[i] for i in idx], [y[i] for i in idx]
    vec = TfidfVectorizer(sublinear_tf=True, min_df=1)
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(vec.fit_transform(x), y)
    pred = clf.predict(vec.transform(test[0]))
    return f1_score(test[1], pred, average="macro"), f1_score(test[1], pred, pos_label=1)


def sluice(build, n, epochs):
    with tempfile.TemporaryDirectory() as store:
        args = [f"{build}/bin/sluice", "run", "pipelines/reuters_grain_minilm.toml", "--store", store, "--json",
                "--quiet", "--set", f"train.epochs={epochs}", "--set", f"data.train_examples={n}"]
        run = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
        m = run["metrics"]
        shown = json.loads(subprocess.run([f"{build}/bin/sluice", "runs", "show", run["id"], "--store", store, "--json"],
                                          check=True, capture_output=True, text=True).stdout)
        per_class = next(a["path"] for a in shown["artifacts"] if a["stage"] == "eval" and a["name"] == "per_class")
        rows = [line.split(",") for line in open(per_class).read().splitlines()[1:]]
        positive = float(next(r for r in rows if r[1] == "1")[4])
        return m["eval.f1_macro"], positive, m["train.epoch_seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--labels", default="100,all")
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    train, test = arff("ReutersGrain-train"), arff("ReutersGrain-test")
    print(f"train {len(train[0])} stories ({sum(train[1])} grain), test {len(test[0])} ({sum(test[1])} grain)")
    print(f"{'labels':>6} {'model':40} {'macro-F1':>9} {'F1(grain)':>10}")
    for labels in a.labels.split(","):
        n = 0 if labels == "all" else int(labels)
        f1, pos = tfidf_lr(train, test, n)
        print(f"{labels:>6} {'TF-IDF + logistic regression':40} {f1:9.3f} {pos:10.3f}", flush=True)
        f1, pos, sec = sluice(a.build, n, a.epochs)
        print(f"{labels:>6} {'sluice: all-MiniLM-L6-v2 fine-tuned':40} {f1:9.3f} {pos:10.3f}   ({sec:.0f} s/epoch)", flush=True)


if __name__ == "__main__":
    main()
