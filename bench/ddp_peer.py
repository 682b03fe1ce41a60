#!/usr/bin/python3
"""The PyTorch peer of `sluice run pipelines/fashion_mnist_{mlp,cnn}.toml --nproc N`:
DistributedDataParallel under torchrun (Gloo, one thread per rank), the same data, split,
network, optimizer, global batch and epochs; each rank takes its contiguous share of
every global batch of one seeded permutation (as Sluice's trainer does), logs the loss
every step (loss.item()) and validates every epoch.

  torchrun --standalone --nproc_per_node 2 --redirects 1 --tee 1 --log_dir DIR bench/ddp_peer.py --out FILE

(Debian 12's torchrun 1.13 under Python 3.11 fails on its default --redirects 0 / --tee 0:
Python 3.11's IntFlag no longer lists the zero flag (nor ALL) that its parser looks up; OUT
does, hence --redirects 1 --tee 1: the ranks' stdout copied to log files; and --out.)

Rank 0 prints one JSON object: samples_per_sec of each epoch (training steps only, all
ranks' samples), test_accuracy. Run with Debian's python3-torch (1.13, the same version
as the LibTorch Sluice builds against). Without torchrun it trains alone (world 1).
"""
import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from train_peer import build, load_splits  # the same data, splits and networks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128, help="the global batch")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--out", help="write rank 0's JSON here instead of stdout")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(args.seed)

    (x_train, y_train), (x_val, y_val), (x_te, y_te) = load_splits(args.seed, args.val_fraction)

    model = build(args.model, args.hidden)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)

    def evaluate(x, y):
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(x), 1024):
                correct += (model(x[i:i + 1024]).argmax(1) == y[i:i + 1024]).sum().item()
        return correct / len(x)

    n = len(x_train)
    generator = torch.Generator().manual_seed(args.seed)
    rates = []
    for _ in range(args.epochs):
        model.train()
        perm = torch.randperm(n, generator=generator)
        t0 = time.perf_counter()
        for begin in range(0, n, args.batch_size):
            end = min(n, begin + args.batch_size)
            lo, hi = begin + (end - begin) * rank // world, begin + (end - begin) * (rank + 1) // world
            idx = perm[lo:hi]
            opt.zero_grad()
            loss = F.cross_entropy(model(x_train.index_select(0, idx)), y_train.index_select(0, idx))
            loss.backward()
            opt.step()
            loss.item()
        rates.append(n / (time.perf_counter() - t0))
        evaluate(x_val, y_val)
    accuracy = evaluate(x_te, y_te)
    if rank == 0:
        result = json.dumps({"world": world, "samples_per_sec": rates, "test_accuracy": accuracy})
        if args.out:
            with open(args.out, "w") as f:
                f.write(result)
        else:
            print(result)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
