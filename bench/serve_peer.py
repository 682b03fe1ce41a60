"""The Python peers of `sluice serve`, written the way users write them.

A table bundle (credit-risk: an MLP over one-hot and standardized columns) rebuilt in
PyTorch (Debian's python3-torch) from the bundle's model.pt and preprocessing.json, and a
text classifier (the Reuters grain model, a fine-tuned BERT) exported by `sluice models
export --format hf` and loaded with Hugging Face transformers (its fast tokenizer, then
BertForSequenceClassification), each behind:

  - Flask, served by gunicorn (2 workers, 4 threads each: this machine's 2 cores), taking
    MLflow's dataframe_split / dataframe_records through pandas, as a user's app would;
  - MLflow's own scoring server: `mlflow models serve` on the same model saved as an MLflow
    pyfunc model (save_mlflow_model below), which converts every request through pandas.

  gunicorn -w 2 --threads 4 -b 127.0.0.1:PORT 'serve_peer:flask_app("BUNDLE")'
  gunicorn -w 2 --threads 4 -b 127.0.0.1:PORT 'serve_peer:flask_app("HF_DIR", "text")'
  python serve_peer.py save-mlflow BUNDLE|HF_DIR table|text OUT_DIR
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn


class TableModel:
    """Preprocessing and network of a Sluice MLP bundle, in plain PyTorch and numpy."""

    def __init__(self, bundle):
        self.manifest = json.load(open(os.path.join(bundle, "manifest.json")))
        self.pre = json.load(open(os.path.join(bundle, "preprocessing.json")))
        assert self.manifest["model"]["plugin"] == "mlp", "this peer rebuilds the mlp plugin's network"
        params = self.manifest["model"]["params"]
        archive = torch.jit.load(os.path.join(bundle, "model.pt"))
        state = {k: v.detach().clone() for k, v in archive.named_parameters()}
        widths = [self.manifest["schema"]["sample_shape"][0]] + list(params["hidden"])
        layers = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(params["dropout"])]
        layers.append(nn.Linear(widths[-1], self.manifest["schema"]["num_outputs"]))
        self.net = nn.Sequential(*layers)
        self.net.load_state_dict({k.replace("layers.", "", 1): v for k, v in state.items()})
        self.net.eval()
        self.class_names = self.pre["class_names"]
        self.columns = [f["column"] for f in self.pre["features"]]

    def features(self, frame):
        """The bundle's preprocessing of a pandas DataFrame: numbers standardized (missing
        filled), categories one-hot (unseen ones all zero)."""
        parts = []
        for f in self.pre["features"]:
            column = frame[f["column"]]
            if f["kind"] == "numeric":
                x = np.asarray(column.astype("float64").fillna(f["fill"]), dtype=np.float64)
                parts.append(((x - f["shift"]) / f["scale"])[:, None])
            else:
                codes = {c: i for i, c in enumerate(f["categories"])}
                onehot = np.zeros((len(column), len(codes)))
                for row, value in enumerate(column.astype(str)):
                    if value in codes:
                        onehot[row, codes[value]] = 1
                parts.append(onehot)
        return torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32))

    def predict(self, frame):
        with torch.no_grad():
            p = torch.softmax(self.net(self.features(frame)), 1).double().numpy()
        return [{"label": self.class_names[int(row.argmax())], "probabilities": row.tolist()} for row in p]


class TextModel:
    """A BERT text classifier in Hugging Face's layout, as transformers users load one."""

    def __init__(self, folder, max_length=128):
        from transformers import AutoTokenizer, BertForSequenceClassification

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.net = BertForSequenceClassification.from_pretrained(folder)
        self.net.eval()
        self.max_length = max_length
        labels = self.net.config.id2label
        self.class_names = [labels[i] for i in range(len(labels))]

    def predict(self, frame):
        texts = [str(t) for t in frame.iloc[:, 0]]
        batch = self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
        with torch.no_grad():
            p = torch.softmax(self.net(**batch).logits, 1).double().numpy()
        return [{"label": self.class_names[int(row.argmax())], "probabilities": row.tolist()} for row in p]


def load(path, kind):
    return TextModel(path) if kind == "text" else TableModel(path)


def flask_app(bundle, kind="table"):
    import pandas as pd
    from flask import Flask, jsonify, request

    torch.set_num_threads(1)
    model = load(bundle, kind)
    app = Flask("peer")

    @app.post("/invocations")
    def invocations():
        body = request.get_json()
        if "dataframe_split" in body:
            split = body["dataframe_split"]
            frame = pd.DataFrame(split["data"], columns=split["columns"])
        elif "instances" in body:
            frame = pd.DataFrame({"text": body["instances"]})
        else:
            frame = pd.DataFrame(body["dataframe_records"])
        return jsonify({"predictions": model.predict(frame)})

    @app.get("/ping")
    def ping():
        return "ok"

    return app


def save_mlflow_model(bundle, kind, out):
    import mlflow.pyfunc

    class Wrapper(mlflow.pyfunc.PythonModel):
        def load_context(self, context):
            torch.set_num_threads(1)
            self.model = load(context.artifacts["bundle"], kind)

        def predict(self, context, model_input, params=None):
            return self.model.predict(model_input)

    mlflow.pyfunc.save_model(out, python_model=Wrapper(), artifacts={"bundle": bundle},
                             code_paths=[os.path.abspath(__file__)])


if __name__ == "__main__":
    if sys.argv[1] == "save-mlflow":
        save_mlflow_model(sys.argv[2], sys.argv[3], sys.argv[4])
