#!/usr/bin/python3
"""PyTorch 1.13 side of the hinton benchmark (recipes/benchmarks/hinton.json), done the way
retort does it, for bench/pytorch/compare_hinton.sh.

It trains the teacher once (seed 1), then for each seed K a student from scratch on the labels
and a student distilled from the teacher, both starting from the same weights (as retort's
`scratch` and `kd` stages do: both build models.student with the stage seed K). What matches
retort, and where in retort it is decided:

- Data (pipeline/src/data/fashion_mnist.cpp, dataset.cpp, data_section.cpp): the Fashion-MNIST
  IDX .gz files in $RETORT_FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist),
  pixels v / 255 as float32; --train-size N keeps the first N training images (data.train_size);
  the full 10,000 test images.
- Models (pipeline/src/arch/build_model.cpp, mlp.cpp): (x - 0.2860) / 0.3530 first (retort
  bakes the normalisation into the model, so augmentation happens on raw pixels), Flatten,
  then Linear + ReLU (+ Dropout) per hidden layer, Linear to 10 logits. Teacher 784-1200-1200-10
  with dropout 0.2 (inverted dropout, as pipeline/src/engine/ops/dropout.cpp), student
  784-800-800-10.
- Weight init (pipeline/src/engine/init.cpp, graph_builder.cpp): bit-for-bit retort's. Each
  weight W [out, in] ("fcI.weight") is filled row-major with N(0, 2 / fan_in) from Box-Muller
  over std::mt19937_64 seeded with derive_seed(stage seed, "fcI.weight"); biases are 0. The
  generator is reimplemented below in numpy, so retort and PyTorch start from the same weights.
- Augmentation (pipeline/src/data/augment.cpp, crop_padding 1, teacher only): every image, every
  epoch, is shifted by (dy, dx) drawn uniformly from {-1, 0, 1}^2, out(y, x) = in(y + dy, x + dx),
  zero (black) where the source is outside the image; no flip.
- Loop (pipeline/src/engine/trainer.cpp, distill/distiller.cpp, data/batch_loader.cpp): batch
  128, a new shuffle each epoch, drop_last (468 steps per epoch on 60,000 images); SGD with
  momentum and L2 weight decay added to the gradient (the same update as torch.optim.SGD);
  the learning rate follows retort's default schedule, which a recipe without "schedule" gets
  from the stage schema (pipeline/include/retort/engine/train_options_json.h): cosine from the
  recipe's lr to 0 over epochs x steps_per_epoch steps, no warm-up:
  lr(step) = lr * 0.5 * (1 + cos(pi * step / total_steps)), step = 0, 1, ... before each update.
  Mean cross-entropy over the batch. The loop also sums the training loss and accuracy, as
  retort's does.
- KD (pipeline/src/distill/distiller.cpp, soft_targets.cpp): the teacher's logits for the
  whole transfer set (the training images, without augmentation, teacher in eval mode) are
  computed once before training (retort's cache_teacher_logits, on by default; not in the
  training time); each step takes the batch's rows, softmax(t / T), and the loss is
  alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, labels), T = 20,
  alpha = 0.9, batch means.
- Timing: per epoch, the training loop only (shuffle, augmentation, forward, backward, update,
  loss/accuracy sums), as retort's train_seconds (which excludes model building, the teacher
  logit cache and test evaluation). Test accuracy is measured after training, in eval() mode
  under torch.no_grad().

Not the same (cannot be): the shuffle order, the augmentation draws and the dropout masks come
from torch's generator, not retort's; float results differ by summation order (oneDNN vs
OpenBLAS/oneDNN in torch).

Tuned as ../shared/TOOLCHAIN.md asks: torch.set_num_threads(--threads); OPENBLAS_CORETYPE and
GLIBC_TUNABLES must be set before the interpreter starts (compare_hinton.sh does; this script
warns when they are not); the data sets are tensors in memory, no DataLoader.

Prints one JSON object, or writes it to --out. With --only MODEL it trains just that model
(teacher, scratch-sK or kd-sK), saving the teacher's trained weights to --teacher-state or
reading them from there for kd-sK, so that compare_hinton.sh can run retort's and PyTorch's
training of each model back to back.
"""
import argparse
import gzip
import json
import math
import os
import re
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - environment check
    sys.exit(f"hinton.py: {e}; install PyTorch with: bash scripts/setup.sh --with-torch "
             "(Debian's python3-torch, for /usr/bin/python3)")

FASHION_DIR = os.environ.get("RETORT_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # retort's kFashionMnistMean / kFashionMnistStd
RELU_GAIN = 1.4142135623730951  # retort's kReluGain
TEACHER_SEED = 1
BATCH = 128
TEMPERATURE, ALPHA = 20.0, 0.9
# The recipe's optimizers (recipes/benchmarks/hinton.json).
TEACHER_OPT = {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.0001}
STUDENT_OPT = {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.0}

M64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# retort's weight initialisation, bit for bit (pipeline/src/engine/init.cpp).

def derive_init_seed(seed, name):
    """engine::derive_seed: FNV-1a of the name, then SplitMix64's finaliser."""
    h = 0xCBF29CE484222325
    for c in name.encode():
        h ^= c
        h = (h * 0x100000001B3) & M64
    z = (seed + 0x9E3779B97F4A7C15 * (h | 1)) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def mt19937_64(seed, count):
    """The first `count` outputs of std::mt19937_64(seed), as a numpy uint64 array."""
    n, m = 312, 156
    state = [seed & M64]
    for i in range(1, n):
        prev = state[-1]
        state.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & M64)
    mt = np.array(state, dtype=np.uint64)
    upper, lower = np.uint64(0xFFFFFFFF80000000), np.uint64(0x7FFFFFFF)
    matrix_a = np.uint64(0xB5026F5AA96619E9)
    one = np.uint64(1)

    def twist_rows(i0, i1, nxt, far):
        x = (mt[i0:i1] & upper) | (nxt & lower)
        xa = x >> one
        xa ^= np.where((x & one) == one, matrix_a, np.uint64(0))
        mt[i0:i1] = far ^ xa

    out = np.empty(((count + n - 1) // n) * n, dtype=np.uint64)
    for block in range(len(out) // n):
        # The recurrence vectorised in three parts: each reads only values already final.
        twist_rows(0, n - m, mt[1:n - m + 1].copy(), mt[m:n].copy())
        twist_rows(n - m, n - 1, mt[n - m + 1:n].copy(), mt[0:m - 1].copy())
        twist_rows(n - 1, n, mt[0:1].copy(), mt[m - 1:m].copy())
        y = mt.copy()
        y ^= (y >> np.uint64(29)) & np.uint64(0x5555555555555555)
        y ^= (y << np.uint64(17)) & np.uint64(0x71D67FFFEDA60000)
        y ^= (y << np.uint64(37)) & np.uint64(0xFFF7EEE000000000)
        y ^= y >> np.uint64(43)
        out[block * n:(block + 1) * n] = y
    return out[:count]


def kaiming_normal_like_retort(out_features, in_features, seed, name):
    """retort's kaiming_normal: N(0, gain^2 / fan_in) by Box-Muller (cos, then sin)."""
    count = out_features * in_features
    pairs = (count + 1) // 2
    bits = mt19937_64(derive_init_seed(seed, name), 2 * pairs)
    u = (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    u1 = 1.0 - u[0::2]
    u2 = u[1::2]
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * math.pi * u2
    normals = np.empty(2 * pairs, dtype=np.float64)
    normals[0::2] = radius * np.cos(angle)
    normals[1::2] = radius * np.sin(angle)
    stddev = RELU_GAIN / math.sqrt(float(in_features))
    w = (stddev * normals[:count]).astype(np.float32)
    return torch.from_numpy(w.reshape(out_features, in_features))


# retort's shuffle (pipeline/src/data/batch_loader.cpp, seeded_random.h), for --retort-order.

def _mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def retort_order(n, seed, epoch):
    """BatchLoader::start_epoch's Fisher-Yates over SplitMix64(derive_seed(seed, SHUFFLE, epoch))."""
    state = _mix64(_mix64(_mix64(seed) ^ 0x53485546464C45) ^ epoch)
    order = list(range(n))
    for i in range(n, 1, -1):
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        j = ((z ^ (z >> 31)) * i) >> 64
        order[i - 1], order[j] = order[j], order[i - 1]
    return torch.tensor(order, dtype=torch.int64)


# ---------------------------------------------------------------------------------------------
# Data and models.

def read_idx(path, offset):
    try:
        with gzip.open(path, "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
    except FileNotFoundError:
        sys.exit(f"hinton.py: '{path}' not found; install the Debian package dataset-fashion-mnist "
                 "(bash scripts/setup.sh), or set RETORT_FASHION_MNIST_DIR to a folder holding "
                 "its four .gz files")


def load_split(prefix, limit=None):
    images = read_idx(os.path.join(FASHION_DIR, f"{prefix}-images-idx3-ubyte.gz"), 16)
    labels = read_idx(os.path.join(FASHION_DIR, f"{prefix}-labels-idx1-ubyte.gz"), 8)
    n = labels.size if limit is None else min(limit, labels.size)
    x = images[: n * 784].astype(np.float32) / np.float32(255.0)  # exact v / 255, as retort
    x = torch.from_numpy(x.reshape(n, 1, 28, 28).copy())
    y = torch.from_numpy(labels[:n].astype(np.int64))
    return x, y


class Normalize(nn.Module):
    def forward(self, x):
        return (x - MEAN) / STD


def mlp(hidden, dropout, seed):
    layers = [Normalize(), nn.Flatten()]
    width = 784
    for i, h in enumerate(list(hidden) + [10]):
        fc = nn.Linear(width, h)
        with torch.no_grad():
            fc.weight.copy_(kaiming_normal_like_retort(h, width, seed, f"fc{i + 1}.weight"))
            fc.bias.zero_()
        layers.append(fc)
        if i < len(hidden):
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        width = h
    return nn.Sequential(*layers)


def load_onnx_weights(model, path):
    """Copies fcI.weight / fcI.bias from a retort-exported ONNX MLP (checks only)."""
    import onnx
    from onnx import numpy_helper
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}
    fcs = [m for m in model if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, fc in enumerate(fcs):
            fc.weight.copy_(torch.from_numpy(inits[f"fc{i + 1}.weight"].copy()))
            fc.bias.copy_(torch.from_numpy(inits[f"fc{i + 1}.bias"].copy()))


def teacher_model():
    return mlp([1200, 1200], 0.2, TEACHER_SEED)


def student_model(seed):
    return mlp([800, 800], 0.0, seed)


# ---------------------------------------------------------------------------------------------
# Training.

# out(y, x) = padded(y + 1 + dy, x + 1 + dx) for a zero padding of 1: flat offsets into [30*30].
_CROP_BASE = (torch.arange(28).view(28, 1) * 30 + torch.arange(28).view(1, 28)).view(1, 784)


def jitter(x, generator):
    """crop_padding 1: each image shifted by (dy, dx) in {-1, 0, 1}^2, zero fill."""
    b = x.shape[0]
    padded = F.pad(x.view(b, 28, 28), (1, 1, 1, 1)).view(b, 900)
    d = torch.randint(0, 3, (b, 2), generator=generator)  # dy + 1, dx + 1
    index = _CROP_BASE + (d[:, 0] * 30 + d[:, 1]).view(b, 1)
    return torch.gather(padded, 1, index).view(b, 1, 28, 28)


def train(model, x, y, epochs, opt, seed, augment=False, teacher_logits=None,
          orders=None):
    """Returns per-epoch seconds and the last epoch's training loss and accuracy. `orders`
    (--retort-order): one precomputed permutation per epoch instead of torch.randperm."""
    n = x.shape[0]
    steps_per_epoch = n // BATCH if n >= BATCH else 1  # drop_last, as retort when n >= batch
    total_steps = steps_per_epoch * epochs
    optimizer = torch.optim.SGD(model.parameters(), lr=opt["lr"], momentum=opt["momentum"],
                                weight_decay=opt["weight_decay"])
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout masks
    model.train()
    epoch_seconds, step = [], 0
    loss_sum = correct = None
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator) if orders is None else orders[epoch]
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for i in range(steps_per_epoch):
            idx = order[i * BATCH:(i + 1) * BATCH]
            xb, yb = x[idx], y[idx]
            if augment:
                xb = jitter(xb, generator)
            logits = model(xb)
            if teacher_logits is None:
                loss = F.cross_entropy(logits, yb)
            else:
                soft = F.softmax(teacher_logits[idx] / TEMPERATURE, dim=1)
                kl = F.kl_div(F.log_softmax(logits / TEMPERATURE, dim=1), soft,
                              reduction="batchmean")
                loss = (ALPHA * TEMPERATURE * TEMPERATURE * kl
                        + (1 - ALPHA) * F.cross_entropy(logits, yb))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            lr = opt["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / total_steps)))
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.step()
            step += 1
            with torch.no_grad():
                loss_sum += loss.detach() * yb.shape[0]
                correct += (logits.argmax(1) == yb).sum()
        seen = steps_per_epoch * min(BATCH, n)
        final = (loss_sum.item() / seen, correct.item() / seen)  # inside the epoch, as retort
        epoch_seconds.append(time.perf_counter() - start)
    return epoch_seconds, final


@torch.no_grad()
def logits_of(model, x, batch=1000):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def accuracy(model, x, y):
    return (logits_of(model, x).argmax(1) == y).float().mean().item()


def summary(model, epoch_seconds, final, test_x, test_y, seed):
    return {
        "seed": seed,
        "epochs": len(epoch_seconds),
        "test_accuracy": accuracy(model, test_x, test_y),
        "train_loss": final[0],
        "train_accuracy": final[1],
        "train_seconds": sum(epoch_seconds),
        "seconds_per_epoch": sum(epoch_seconds) / len(epoch_seconds),
        "epoch_seconds": epoch_seconds,
    }


def log(message):
    print(f"[pytorch] {message}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(
        description="PyTorch side of the hinton benchmark: teacher once, then per seed a "
                    "student from scratch and a distilled one (see the module docstring).")
    ap.add_argument("--seeds", type=int, default=3, help="students for seeds 1..N (default 3)")
    ap.add_argument("--teacher-epochs", type=int, default=60)
    ap.add_argument("--student-epochs", type=int, default=30)
    ap.add_argument("--train-size", type=int, default=0,
                    help="first N training images (default 0: all 60,000)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--retort-order", action="store_true",
                    help="check only, not for timing: shuffle in retort's exact order (computed "
                         "in Python before each run), so a student sees retort's batches")
    ap.add_argument("--teacher-onnx",
                    help="check only: take the teacher's weights from retort's model.onnx "
                         "(e.g. OUT/retort/teacher/model.onnx) instead of training it")
    ap.add_argument("--only", metavar="MODEL",
                    help="train just MODEL: teacher, scratch-sK or kd-sK (K: the seed); the JSON "
                         "then holds that model alone")
    ap.add_argument("--teacher-state", metavar="PATH",
                    help="with --only: where --only teacher saves the trained teacher's weights "
                         "and --only kd-sK reads them")
    args = ap.parse_args()
    only = None
    if args.only is not None:
        match = re.fullmatch(r"teacher|(scratch|kd)-s([1-9][0-9]*)", args.only)
        if not match:
            ap.error(f"--only takes teacher, scratch-sK or kd-sK (K a seed >= 1), "
                     f"got '{args.only}'")
        only = ("teacher", TEACHER_SEED) if match.group(1) is None else \
            (match.group(1), int(match.group(2)))
        if only[0] == "kd" and not (args.teacher_state or args.teacher_onnx):
            ap.error(f"--only {args.only} needs the trained teacher: --teacher-state PATH "
                     "(written by --only teacher) or --teacher-onnx")
    elif args.teacher_state:
        ap.error("--teacher-state goes with --only")
    for name, value in (("--seeds", args.seeds), ("--teacher-epochs", args.teacher_epochs),
                        ("--student-epochs", args.student_epochs), ("--threads", args.threads)):
        if value < 1:
            ap.error(f"{name} must be >= 1, got {value}")
    if args.train_size < 0:
        ap.error(f"--train-size must be >= 0 (0: all), got {args.train_size}")
    for var in ("OPENBLAS_CORETYPE", "GLIBC_TUNABLES"):
        if not os.environ.get(var):
            log(f"warning: {var} is not set; PyTorch is not tuned as ../shared/TOOLCHAIN.md asks "
                "(bench/pytorch/compare_hinton.sh sets it)")

    torch.set_num_threads(args.threads)
    train_x, train_y = load_split("train", args.train_size or None)
    test_x, test_y = load_split("t10k")
    if train_x.shape[0] < BATCH:
        ap.error(f"--train-size {train_x.shape[0]} is below the batch ({BATCH})")
    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{train_x.shape[0]} training images")

    result = {"side": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
              "train_images": train_x.shape[0], "batch": BATCH,
              "config": {"seeds": args.seeds, "teacher_epochs": args.teacher_epochs,
                         "student_epochs": args.student_epochs}}

    def orders(seed, epochs):
        if not args.retort_order:
            return None
        return [retort_order(train_x.shape[0], seed, e) for e in range(epochs)]

    def write(result):
        text = json.dumps(result, indent=1)
        if not args.out:
            print(text)
            return
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.out)

    def train_student(kind, seed, teacher_logits):
        student = student_model(seed)
        seconds, final = train(student, train_x, train_y, args.student_epochs, STUDENT_OPT, seed,
                               teacher_logits=teacher_logits,
                               orders=orders(seed, args.student_epochs))
        run = summary(student, seconds, final, test_x, test_y, seed)
        log(f"{kind} seed {seed}: {run['test_accuracy']:.4f}, "
            f"{run['seconds_per_epoch']:.2f} s/epoch")
        return run

    if only is not None and only[0] == "scratch":
        result["scratch"] = [train_student("scratch", only[1], None)]
        write(result)
        return

    teacher = teacher_model()
    if only is not None and only[0] == "kd":
        if args.teacher_onnx:
            load_onnx_weights(teacher, args.teacher_onnx)
        else:
            # Missing, truncated or not a state dict: one message (torch raises many kinds).
            try:
                teacher.load_state_dict(torch.load(args.teacher_state))
            except Exception as e:  # noqa: BLE001
                sys.exit(f"hinton.py: cannot read the teacher from --teacher-state "
                         f"{args.teacher_state} ({e}); run --only teacher first")
        start = time.perf_counter()
        cached = logits_of(teacher, train_x, BATCH)
        result["teacher_logit_cache_seconds"] = time.perf_counter() - start
        result["kd"] = [train_student("kd", only[1], cached)]
        write(result)
        return

    if args.teacher_onnx:
        load_onnx_weights(teacher, args.teacher_onnx)
        result["teacher"] = summary(teacher, [0.0], (math.nan, math.nan), test_x, test_y,
                                    TEACHER_SEED)
        result["teacher"]["from"] = args.teacher_onnx
    else:
        seconds, final = train(teacher, train_x, train_y, args.teacher_epochs, TEACHER_OPT,
                               TEACHER_SEED, augment=True,
                               orders=orders(TEACHER_SEED, args.teacher_epochs))
        result["teacher"] = summary(teacher, seconds, final, test_x, test_y, TEACHER_SEED)
    log(f"teacher: {result['teacher']['test_accuracy']:.4f}, "
        f"{result['teacher']['seconds_per_epoch']:.2f} s/epoch")
    if args.teacher_state:
        tmp = args.teacher_state + ".tmp"
        torch.save(teacher.state_dict(), tmp)
        os.replace(tmp, args.teacher_state)
    if only is not None:
        write(result)
        return

    start = time.perf_counter()
    cached = logits_of(teacher, train_x, BATCH)  # once, without augmentation, eval mode
    result["teacher_logit_cache_seconds"] = time.perf_counter() - start

    result["scratch"], result["kd"] = [], []
    for seed in range(1, args.seeds + 1):
        for kind in ("scratch", "kd"):
            result[kind].append(train_student(kind, seed, cached if kind == "kd" else None))
    write(result)


if __name__ == "__main__":
    main()
