#!/usr/bin/python3
"""PyTorch 1.13 side of retort's training benchmarks (bench_train's BM_KdStep and
bench_distill's BM_DistillEpoch).

--student mlp|cnn (BM_KdStep): one step = frozen teacher 784-1200-1200-10 forward, student
forward and backward on 0.5 * T^2 * KL(T=4) + 0.5 * CE, SGD (momentum 0.9) update; batch 128
on real Fashion-MNIST images.

--distill live_teacher|cached_logits (BM_DistillEpoch): one distillation epoch of the hinton
recipe's pair over the first 10,000 Fashion-MNIST training images (shuffled, batch 128,
drop_last: 78 steps). Both models normalise (x - 0.2860) / 0.3530 first, as retort bakes it
into its models. Teacher 784-1200-1200-10 with dropout 0.2, in eval() under torch.no_grad();
student 784-800-800-10; loss alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE
at T = 20, alpha = 0.9; SGD lr 0.01 momentum 0.9. cached_logits computes the teacher's logits
for the slice once before the timed epochs (reported separately as teacher_cache_s).

Tuned as ../shared/TOOLCHAIN.md says (OpenBLAS with SkylakeX kernels, 2 threads, glibc
hugepage/mmap tunables set by compare_pytorch.sh before the interpreter starts). Prints one
JSON object: images/s (median over repetitions), seconds per step or epoch, and peak RSS.
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


FASHION_MEAN, FASHION_STD = 0.2860, 0.3530
DISTILL_IMAGES = 10000


class Normalize(nn.Module):
    def forward(self, x):
        return (x - FASHION_MEAN) / FASHION_STD


def hinton_teacher():
    return nn.Sequential(Normalize(), nn.Flatten(), nn.Linear(784, 1200), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(1200, 1200), nn.ReLU(), nn.Dropout(0.2), nn.Linear(1200, 10))


def hinton_student():
    return nn.Sequential(Normalize(), nn.Flatten(), nn.Linear(784, 800), nn.ReLU(),
                         nn.Linear(800, 800), nn.ReLU(), nn.Linear(800, 10))


def run_distill(variant, batch, seconds, repetitions, images=DISTILL_IMAGES, temperature=20.0,
                alpha=0.9):
    torch.manual_seed(0)
    t, s = hinton_teacher().eval(), hinton_student().train()
    for p in t.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD(s.parameters(), lr=0.01, momentum=0.9)
    x_all, y_all = load_images(images)
    steps = images // batch  # drop_last

    cached, cache_seconds = None, None
    if variant == "cached_logits":
        start = time.perf_counter()
        with torch.no_grad():
            cached = torch.cat([t(x_all[i:i + batch]) for i in range(0, images, batch)])
        cache_seconds = time.perf_counter() - start

    order = torch.Generator().manual_seed(0)

    def epoch():
        perm = torch.randperm(images, generator=order)
        for i in range(steps):
            idx = perm[i * batch:(i + 1) * batch]
            x, y = x_all[idx], y_all[idx]
            with torch.no_grad():
                teacher_logits = cached[idx] if cached is not None else t(x)
                soft = F.softmax(teacher_logits / temperature, dim=1)
            logits = s(x)
            kd = F.kl_div(F.log_softmax(logits / temperature, dim=1), soft, reduction="batchmean")
            loss = alpha * temperature * temperature * kd + (1 - alpha) * F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return loss.item()

    epoch()  # warm-up
    per_epoch = []
    for _ in range(repetitions):
        n, start = 0, time.perf_counter()
        while n == 0 or time.perf_counter() - start < seconds:
            final_loss = epoch()
            n += 1
        per_epoch.append((time.perf_counter() - start) / n)
    epoch_seconds = statistics.median(per_epoch)
    out = {
        "name": f"BM_DistillEpoch/{variant}",
        "seconds": epoch_seconds,
        "items_per_second": steps * batch / epoch_seconds,
        "steps_per_epoch": steps,
        "final_loss": final_loss,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if cache_seconds is not None:
        out["teacher_cache_s"] = cache_seconds
    return out


def main():
    ap = argparse.ArgumentParser()
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--student", choices=["mlp", "cnn"], help="BM_KdStep/<student>")
    which.add_argument("--distill", choices=["live_teacher", "cached_logits"],
                       help="BM_DistillEpoch/<variant>")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum time per repetition")
    ap.add_argument("--repetitions", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.distill:
        print(json.dumps(run_distill(args.distill, args.batch, args.seconds, args.repetitions)))
        return
    result = run(args.student, args.batch, args.seconds, args.repetitions)
    result["seconds"] = args.batch / result["items_per_second"]  # per step
    print(json.dumps(result))


if __name__ == "__main__":
    main()
