#!/usr/bin/python3
"""PyTorch 1.13 side of the KD training-step benchmark (bench_train's BM_KdStep).

One step = frozen teacher 784-1200-1200-10 forward, student forward and backward on
0.5 * T^2 * KL(T=4) + 0.5 * CE, SGD (momentum 0.9) update; batch 128 on real Fashion-MNIST
images. Tuned as ../shared/TOOLCHAIN.md says (OpenBLAS with SkylakeX kernels, 2 threads,
glibc hugepage/mmap tunables set by compare_pytorch.sh before the interpreter starts).
Prints one JSON object per student: images/s (median over repetitions) and peak RSS.
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION = os.environ.get("RETORT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def load_images(count):
    with gzip.open(os.path.join(FASHION, "train-images-idx3-ubyte.gz"), "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    with gzip.open(os.path.join(FASHION, "train-labels-idx1-ubyte.gz"), "rb") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    x = torch.from_numpy(data[: count * 784].astype(np.float32) / 255.0).reshape(count, 1, 28, 28)
    return x, torch.from_numpy(labels[:count].astype(np.int64))


def teacher():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 1200), nn.ReLU(), nn.Linear(1200, 1200),
                         nn.ReLU(), nn.Linear(1200, 10))


def student(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128),
                         nn.ReLU(), nn.Linear(128, 10))


def run(kind, batch, seconds, repetitions, temperature=4.0, alpha=0.5):
    torch.manual_seed(0)
    t, s = teacher().eval(), student(kind).train()
    for p in t.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD(s.parameters(), lr=0.01, momentum=0.9)
    x_all, y_all = load_images(batch * 8)
    batches = [(x_all[i * batch:(i + 1) * batch], y_all[i * batch:(i + 1) * batch]) for i in range(8)]

    def step(i):
        x, y = batches[i % len(batches)]
        with torch.no_grad():
            soft = F.softmax(t(x) / temperature, dim=1)
        logits = s(x)
        kd = F.kl_div(F.log_softmax(logits / temperature, dim=1), soft, reduction="batchmean")
        loss = alpha * temperature * temperature * kd + (1 - alpha) * F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(20):  # warm-up
        step(i)
    rates = []
    for _ in range(repetitions):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step(n)
            n += 1
        rates.append(n * batch / (time.perf_counter() - start))
    return {
        "name": f"BM_KdStep/{kind}",
        "items_per_second": statistics.median(rates),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--student", choices=["mlp", "cnn"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(run(args.student, args.batch, args.seconds, args.repetitions)))


if __name__ == "__main__":
    main()
