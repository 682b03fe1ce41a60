"""Reuters-21578 ModApte Grain (ReutersGrain-train -> ReutersGrain-test: 604 stories, 57
about grain): macro-F1 and the grain class's F1 of

  - the encoder pre-trained here (pipelines/reuters_pretrain.toml, MLM on WordNet's glosses
    and then on the training stories), fine-tuned (pipelines/reuters_grain.toml);
  - the same architecture from scratch (reuters_grain.toml, init_from = "none");
  - all-MiniLM-L6-v2 fine-tuned (pipelines/reuters_grain_minilm.toml);
  - TF-IDF + logistic regression (Debian's scikit-learn);
  - fastText supervised (Debian's fasttext);

with all training labels and with 100. Every model trains on the same texts: the text
stage's seeded split (the same seed and stage name in the three pipelines) is read back
from its `splits` artifact and given to the baselines; its validation rows are left out of
their training too.

  tools/setup --bench && /usr/bin/python3 bench/text_quality.py [BUILD] [--labels all,100]
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

DATA = "/usr/local/share/sluice/data/weka/examples"


def arff(name):
    texts, labels = [], []
    for line in open(f"{DATA}/{name}.arff", encoding="utf-8"):
        m = re.match(r"^'(.*)',(\d)\s*$", line)
        if m:
            texts.append(m.group(1).replace("\\n", "\n").replace("\\'", "'"))
            labels.append(m.group(2))
    return texts, labels


def scores(truth, pred):
    return f1_score(truth, pred, average="macro"), f1_score(truth, pred, pos_label="1")


def tfidf_lr(x, y, test):
    vec = TfidfVectorizer(sublinear_tf=True)
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(vec.fit_transform(x), y)
    return scores(test[1], clf.predict(vec.transform(test[0])))


def fasttext(x, y, test, tmp):
    clean = lambda t: " ".join(t.lower().split())
    with open(f"{tmp}/ft_train.txt", "w") as f:
        for t, l in zip(x, y):
            f.write(f"__label__{l} {clean(t)}\n")
    with open(f"{tmp}/ft_test.txt", "w") as f:
        for t in test[0]:
            f.write(clean(t) + "\n")
    subprocess.run(["fasttext", "supervised", "-input", f"{tmp}/ft_train.txt", "-output", f"{tmp}/ft", "-epoch", "25",
                    "-wordNgrams", "2", "-lr", "0.5", "-seed", "7", "-thread", "1", "-verbose", "0"], check=True)
    out = subprocess.run(["fasttext", "predict", f"{tmp}/ft.bin", f"{tmp}/ft_test.txt"], check=True,
                         capture_output=True, text=True).stdout.split()
    return scores(test[1], [p.replace("__label__", "") for p in out])


class Sluice:
    def __init__(self, build, store):
        self.build, self.store = build, store

    def __call__(self, *args):
        return subprocess.run([f"{self.build}/bin/sluice", *args, "--store", self.store], check=True,
                              capture_output=True, text=True).stdout

    def run(self, pipeline, sets):
        args = ["run", pipeline, "--json", "--quiet"]
        for s in sets:
            args += ["--set", s]
        run = json.loads(self(*args))
        if run["status"] != "succeeded":
            raise SystemExit(f"{pipeline}: {run.get('error')}")
        shown = json.loads(self("runs", "show", run["id"], "--json"))
        art = {(a["stage"], a["name"]): a["path"] for a in shown["artifacts"]}
        if ("eval", "per_class") not in art:  # pre-training: no evaluation
            return run["metrics"], None, None
        rows = [l.split(",") for l in open(art[("eval", "per_class")]).read().splitlines()[1:]]
        positive = float(next(r for r in rows if r[1] == "1")[4])
        splits = [l.split(",") for l in open(art[("data", "splits")]).read().splitlines()[1:]]
        train_rows = [int(r) for r, s in splits if s == "train"]
        return run["metrics"], (run["metrics"]["eval.f1_macro"], positive), train_rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--labels", default="all,100")
    ap.add_argument("--store", help="a store to keep (and to reuse: its reuters-encoder is not pre-trained again)")
    a = ap.parse_args()
    train, test = arff("ReutersGrain-train"), arff("ReutersGrain-test")
    print(f"train {len(train[0])} stories ({train[1].count('1')} grain), test {len(test[0])} "
          f"({test[1].count('1')} grain)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        sluice = Sluice(a.build, a.store or f"{tmp}/store")
        registered = subprocess.run([f"{a.build}/bin/sluice", "models", "show", "reuters-encoder", "--store", sluice.store],
                                    capture_output=True).returncode == 0
        if not registered:
            m, _, _ = sluice.run("pipelines/reuters_pretrain.toml", [])
            for stage in ("pretrain_english", "pretrain"):
                print(f"pre-training ({stage}): {m[stage + '.epoch_seconds']:.0f} s/epoch, "
                      f"{m[stage + '.tokens_per_sec']:.0f} tokens/s, validation masked-token accuracy "
                      f"{m[stage + '.val_mlm_accuracy']:.3f}", flush=True)
        print(f"{'labels':>6} {'model':44} {'macro-F1':>9} {'F1(grain)':>10}", flush=True)
        for labels in a.labels.split(","):
            keep = [] if labels == "all" else [f"data.train_examples={labels}"]
            rows = []
            m, s, train_rows = sluice.run("pipelines/reuters_grain.toml", keep)
            rows.append(("sluice: reuters-encoder (pre-trained here)", s, m["train.epoch_seconds"]))
            m, s, same = sluice.run("pipelines/reuters_grain.toml", keep + ["model.init_from=none"])
            assert same == train_rows
            rows.append(("sluice: same architecture from scratch", s, m["train.epoch_seconds"]))
            m, s, same = sluice.run("pipelines/reuters_grain_minilm.toml", keep)
            assert same == train_rows
            rows.append(("sluice: all-MiniLM-L6-v2 fine-tuned", s, m["train.epoch_seconds"]))
            x, y = [train[0][i] for i in train_rows], [train[1][i] for i in train_rows]
            rows.append(("TF-IDF + logistic regression", tfidf_lr(x, y, test), None))
            rows.append(("fastText supervised", fasttext(x, y, test, tmp), None))
            for name, (f1, pos), sec in rows:
                extra = f"   ({sec:.0f} s/epoch)" if sec else ""
                print(f"{labels:>6} {name:44} {f1:9.3f} {pos:10.3f}{extra}", flush=True)


if __name__ == "__main__":
    main()
