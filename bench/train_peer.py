#!/usr/bin/python3
"""The Python PyTorch peer of pipelines/fashion_mnist_mlp.toml (--model mlp) and
pipelines/fashion_mnist_cnn.toml (--model cnn): same data, split sizes, network,
optimizer, learning-rate schedule, batch size, epochs and threads, logging the loss every
step and validating every epoch as the trainer stage does.

  --loop dataloader   the idiomatic loop: TensorDataset + DataLoader(shuffle=True)
  --loop tuned        hand-tuned: data preloaded as one normalized tensor, a randperm per
                      epoch and index_select per batch (what Sluice's trainer does)

Prints one JSON object: samples_per_sec (training steps only), test_accuracy, seconds.
Run with Debian's /usr/bin/python3 (python3-torch 1.13, the same version as LibTorch).
"""
import argparse
import gzip
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def build(kind, hidden):
    """The networks of Sluice's mlp and cnn plugins, layer for layer."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    features = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
    head = nn.Sequential(nn.Dropout(0.25), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
    return nn.Sequential(features, head)


def load_splits(seed, val_fraction):
    """Fashion-MNIST's (train, validation, test) splits as the idx-images plugin makes them:
    a seeded validation share of the training images, pixels normalized by the training
    split's mean and standard deviation, shaped [N, 1, 28, 28]."""
    x_all = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")
    y_all = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    y_test = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_all))
    n_val = int(len(x_all) * val_fraction)
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])

    train_pixels = x_all[train_idx].astype(np.float64) / 255.0
    mean, std = float(train_pixels.mean()), float(train_pixels.std())
    del train_pixels

    def tensor(x):
        return (torch.from_numpy(x.astype(np.float32)).div_(255.0).sub_(mean).div_(std)).unsqueeze(1)

    return ((tensor(x_all[train_idx]), torch.from_numpy(y_all[train_idx])),
            (tensor(x_all[val_idx]), torch.from_numpy(y_all[val_idx])),
            (tensor(x_test), torch.from_numpy(y_test)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loop", choices=["dataloader", "tuned"], required=True)
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--warmup-steps", type=int, default=0)
    ap.add_argument("--cosine", action="store_true", help="cosine schedule after warm-up")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()

    (x_train, y_train), (x_val, y_val), (x_te, y_te) = load_splits(args.seed, args.val_fraction)

    model = build(args.model, args.hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    step = 0

    def set_lr():
        # The trainer's schedule: linear warm-up, then constant or cosine to 0.
        lr = args.lr
        if args.cosine:
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total_steps)))
        if step < args.warmup_steps:
            lr *= (step + 1) / args.warmup_steps
        for group in opt.param_groups:
            group["lr"] = lr

    def evaluate(x, y):
        model.eval()
        correct, loss = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(x), 1024):
                logits = model(x[i:i + 1024])
                loss += F.cross_entropy(logits, y[i:i + 1024], reduction="sum").item()
                correct += (logits.argmax(1) == y[i:i + 1024]).sum().item()
        return loss / len(x), correct / len(x)

    losses = []
    train_seconds = 0.0
    if args.loop == "dataloader":
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train),
                                             batch_size=args.batch_size, shuffle=True)
    for epoch in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        if args.loop == "dataloader":
            for xb, yb in loader:
                set_lr()
                step += 1
                opt.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        else:
            perm = torch.randperm(len(x_train))
            for i in range(0, len(x_train), args.batch_size):
                idx = perm[i:i + args.batch_size]
                xb, yb = x_train.index_select(0, idx), y_train.index_select(0, idx)
                set_lr()
                step += 1
                opt.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        train_seconds += time.perf_counter() - t0
        evaluate(x_val, y_val)
    _, test_accuracy = evaluate(x_te, y_te)
    print(json.dumps({
        "loop": args.loop,
        "samples_per_sec": len(x_train) * args.epochs / train_seconds,
        "test_accuracy": test_accuracy,
        "seconds": time.perf_counter() - start,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
