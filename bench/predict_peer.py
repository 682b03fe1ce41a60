#!/usr/bin/python3
"""The Python peer of `sluice predict` for a Fashion-MNIST CNN bundle: loads the bundle's
weights (a LibTorch archive that torch.jit.load reads) into the same network, applies the
bundle's normalization to IDX images, predicts in batches of 1024 (--batch-size), writes the same
index,pred,p_0.. CSV. Prints rows per second of the network's forward passes (what
`sluice predict` reports as samples_per_sec) and the whole time.

Usage: predict_peer.py BUNDLE_DIR IMAGES.gz OUT.csv [--threads N] [--batch-size B] [--bf16]
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_peer import build  # noqa: E402


def main():
    start = time.perf_counter()
    ap = argparse.ArgumentParser()
    ap.add_argument("bundle")
    ap.add_argument("images")
    ap.add_argument("output")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--bf16", action="store_true", help="autocast to bfloat16, channels-last (as PyTorch's docs advise)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    manifest = json.load(open(os.path.join(args.bundle, "manifest.json")))
    pre = json.load(open(os.path.join(args.bundle, "preprocessing.json")))
    assert manifest["model"]["plugin"] == "cnn", "this peer rebuilds the cnn plugin's default network"
    model = build("cnn", 128)
    archive = torch.jit.load(os.path.join(args.bundle, "model.pt"))
    state = {k: v for k, v in archive.named_parameters()}
    state.update({k: v for k, v in archive.named_buffers()})
    # Sluice names the two halves features.* and head.*; the Sequential here numbers them.
    model.load_state_dict({k.replace("features.", "0.", 1).replace("head.", "1.", 1): v for k, v in state.items()})
    model.eval()
    if args.bf16:
        model = model.to(memory_format=torch.channels_last)

    with gzip.open(args.images, "rb") as f:
        data = f.read()
    n, h, w = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    x = torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, 1, h, w).astype(np.float32))
    x.mul_(pre["input_scale"]).sub_(pre["mean"]).div_(pre["std"])
    forward = 0.0
    lines = ["index,pred," + ",".join(f"p_{c}" for c in range(10))]
    with torch.no_grad():
        for begin in range(0, n, args.batch_size):
            t0 = time.perf_counter()
            if args.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    logits = model(x[begin:begin + args.batch_size].contiguous(memory_format=torch.channels_last)).float()
            else:
                logits = model(x[begin:begin + args.batch_size])
            forward += time.perf_counter() - t0
            p = torch.softmax(logits, 1).double()
            pred = p.argmax(1)
            for i in range(p.shape[0]):
                lines.append(f"{begin + i},{int(pred[i])}," + ",".join(f"{v:.9g}" for v in p[i].tolist()))
    with open(args.output, "w") as out:
        out.write("\n".join(lines) + "\n")
    print(json.dumps({"rows": n, "rows_per_sec": n / forward, "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
