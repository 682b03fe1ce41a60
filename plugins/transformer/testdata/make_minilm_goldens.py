"""Golden sentence embeddings of all-MiniLM-L6-v2 for transformer_test.cpp, from an
independent reference: BERT written out in numpy (float64) from the paper's equations and
Hugging Face's BertModel, the weights read from model.safetensors, Hugging Face's
tokenizers for the token ids, then sentence-transformers' pipeline as the model's
modules.json lists it (mean pooling over tokens, L2 normalization).

  /var/tmp/sluice-oracle/bin/python plugins/transformer/testdata/make_minilm_goldens.py \
      /usr/local/share/sluice/data/models/all-MiniLM-L6-v2 > minilm_goldens.json
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import BertWordPieceTokenizer

TEXTS = [
    "Grain exports rose sharply in the third quarter.",
    "The U.S. Agriculture Department said wheat stocks were 1.5 billion bushels.",
    "Café déjà vu: naïve façade!",
    "中文 and English mixed",
    "",
    "A very long text " + "about corn and wheat prices " * 60,
]


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def encode(w, config, ids):
    get = lambda name: w[name].astype(np.float64)
    eps = config["layer_norm_eps"]
    heads = config["num_attention_heads"]
    n = len(ids)
    h = get("embeddings.word_embeddings.weight")[ids] + get("embeddings.position_embeddings.weight")[:n] + \
        get("embeddings.token_type_embeddings.weight")[0]
    h = layer_norm(h, get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"), eps)
    d = h.shape[1] // heads
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda x, name: x @ get(p + name + ".weight").T + get(p + name + ".bias")
        q, k, v = (lin(h, "attention.self." + m).reshape(n, heads, d).transpose(1, 0, 2) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(1, 0, 2).reshape(n, heads * d)
        a = layer_norm(lin(ctx, "attention.output.dense") + h, get(p + "attention.output.LayerNorm.weight"),
                       get(p + "attention.output.LayerNorm.bias"), eps)
        f = lin(gelu(lin(a, "intermediate.dense")), "output.dense")
        h = layer_norm(f + a, get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias"), eps)
    return h


def main():
    folder = sys.argv[1]
    config = json.load(open(f"{folder}/config.json"))
    max_len = json.load(open(f"{folder}/sentence_bert_config.json"))["max_seq_length"]
    weights = load_file(f"{folder}/model.safetensors")
    tok = BertWordPieceTokenizer(f"{folder}/vocab.txt", lowercase=True)
    tok.enable_truncation(max_len)
    cases = []
    for text in TEXTS:
        ids = tok.encode(text).ids
        e = encode(weights, config, ids).mean(0)
        e = e / np.linalg.norm(e)
        cases.append({"text": text, "ids": ids, "embedding": [round(float(x), 9) for x in e]})
    json.dump({"model": "all-MiniLM-L6-v2", "cases": cases}, sys.stdout, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
