#!/usr/bin/python3
"""Exports the PyTorch models that the "models from outside" tests load (see README.md).

Run with Debian's interpreter, from any directory (needs dataset-fashion-mnist):
    /usr/bin/python3 tests/data/torch/make_outside_models.py
It rewrites, next to this script:
    mlp_batch1.onnx, cnn_batch1.onnx   trained MLP 784-64-10 and CNN, exported with the default
                                       fixed batch of 1 (no dynamic_axes)
    outside_expected.json              PyTorch's top-1 predictions and accuracy of both on the
                                       first 1000 Fashion-MNIST test images; parameter counts
    mlp_norm.onnx                      MLP 784-32-10 whose input normalisation (x - 0.2860) /
                                       0.3530 exports as two Constant nodes; dynamic batch
    mlp_norm_step3.onnx                the same model after 3 SGD steps in PyTorch
    cnn_buffers.onnx                   a CNN normalising with registered buffers (Sub/Div by
                                       initializers) and a Linear on a 3-D tensor (MatMul + Add)
    cnn_buffers_step3.onnx             the same model after 3 SGD steps in PyTorch
The 3 steps: SGD (lr 0.1, momentum 0.9), mean cross-entropy, batches of 32 taken in order from
the first 96 Fashion-MNIST training images (pixels / 255).
"""
import gzip
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("RETORT_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
OPSET = 13


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def images(name):
    return torch.from_numpy(idx(name).astype(np.float32) / 255.0).unsqueeze(1)


class Mlp(nn.Module):
    def __init__(self, hidden=64, normalise=False):
        super().__init__()
        self.normalise = normalise
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        if self.normalise:
            x = (x - 0.2860) / 0.3530  # two Constant nodes in the export
        x = x.view(x.size(0), -1)  # a fixed batch folds this to the constant shape [1, 784]
        return self.fc2(F.relu(self.fc1(x)))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


class CnnBuffers(nn.Module):
    """Normalises with buffers (initializers, not Constant nodes) and applies a Linear to a
    3-D tensor, which exports as MatMul + Add with the bias an initializer."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.2860]).view(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor([0.3530]).view(1, 1, 1, 1))
        self.conv = nn.Conv2d(1, 4, 5, stride=4)  # [N, 4, 6, 6]
        self.mix = nn.Linear(36, 12)  # on [N, 4, 36]
        self.fc = nn.Linear(4 * 12, 10)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.relu(self.conv(x))
        x = F.relu(self.mix(torch.flatten(x, 2)))
        return self.fc(torch.flatten(x, 1))


def export(model, path, batch, dynamic):
    torch.onnx.export(
        model,
        torch.rand(batch, 1, 28, 28),
        os.path.join(HERE, path),
        opset_version=OPSET,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}} if dynamic else None,
        do_constant_folding=True,
    )
    onnx.checker.check_model(onnx.load(os.path.join(HERE, path)))


def train(model, x, y, epochs, batch, lr):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x) - batch + 1, batch):
            idx_ = perm[i:i + batch]
            opt.zero_grad()
            F.cross_entropy(model(x[idx_]), y[idx_]).backward()
            opt.step()
    model.eval()


def three_steps(model):
    x = images("train-images-idx3-ubyte.gz")[:96]
    y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz")[:96].astype(np.int64))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for step in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x[32 * step:32 * step + 32]), y[32 * step:32 * step + 32]).backward()
        opt.step()
    model.eval()


def main():
    torch.manual_seed(20261208)
    train_x = images("train-images-idx3-ubyte.gz")[:20000]
    train_y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz")[:20000].astype(np.int64))
    test_x = images("t10k-images-idx3-ubyte.gz")[:1000]
    test_y = idx("t10k-labels-idx1-ubyte.gz")[:1000].astype(np.int64)
    expected = {}
    for model, stem in ((Mlp(), "mlp_batch1"), (Cnn(), "cnn_batch1")):
        train(model, train_x, train_y, epochs=2, batch=64, lr=0.02)
        with torch.no_grad():
            predictions = model(test_x).argmax(1).numpy()
        expected[stem + ".onnx"] = {
            "predictions": predictions.tolist(),
            "accuracy": float((predictions == test_y).mean()),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        export(model, stem + ".onnx", batch=1, dynamic=False)
    for model, stem in ((Mlp(hidden=32, normalise=True), "mlp_norm"), (CnnBuffers(), "cnn_buffers")):
        expected[stem + ".onnx"] = {"parameters": sum(p.numel() for p in model.parameters())}
        export(model, stem + ".onnx", batch=2, dynamic=True)
        three_steps(model)
        export(model, stem + "_step3.onnx", batch=2, dynamic=True)
    with open(os.path.join(HERE, "outside_expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
