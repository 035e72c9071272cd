#!/usr/bin/python3
"""Exports the small PyTorch models that retort's tests load (see README.md).

Run with Debian's interpreter, from any directory:
    /usr/bin/python3 tests/data/torch/make_models.py
It rewrites, next to this script:
    mlp_dynamic.onnx, mlp_static.onnx   MLP 784-64-32-10, x.view(x.size(0), -1)
    cnn_dynamic.onnx, cnn_static.onnx   conv+BN+ReLU+maxpool, grouped strided conv+ReLU,
                                        avgpool, flatten, linear, log_softmax
    input_0.pb                          float32 [3, 1, 28, 28], values in [0, 1)
    mlp_output_0.pb, cnn_output_0.pb    PyTorch's outputs for input_0.pb (float32 [3, 10])
"*_dynamic" models have a symbolic batch dimension ("batch"); "*_static" ones have batch 3.
"""
import os

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
BATCH = 3


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)  # exports Shape->Gather->Unsqueeze->Concat->Reshape
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, stride=2, groups=2)
        self.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)  # [N, 4, 14, 14]
        x = F.relu(self.conv2(x))  # [N, 8, 6, 6]
        x = F.avg_pool2d(x, 2)  # [N, 8, 3, 3]
        x = torch.flatten(x, 1)  # exports Flatten(axis=1)
        return F.log_softmax(self.fc(x), dim=1)


def export(model, example, name, dynamic):
    path = os.path.join(HERE, name)
    torch.onnx.export(
        model,
        example,
        path,
        opset_version=OPSET,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}} if dynamic else None,
        # PRESERVE (the model is in eval mode) keeps BatchNormalization as its own node
        # instead of folding it into the convolution, so the test exercises that kernel.
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=True,
    )
    onnx.checker.check_model(onnx.load(path))


def save_tensor(array, name):
    tensor = onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32))
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(tensor.SerializeToString())


def main():
    torch.manual_seed(20240611)
    mlp = Mlp()
    cnn = Cnn()
    with torch.no_grad():
        # Non-trivial batch-norm statistics so that the layer does something at inference.
        cnn.bn1.running_mean.uniform_(-0.5, 0.5)
        cnn.bn1.running_var.uniform_(0.5, 2.0)
        cnn.bn1.weight.uniform_(0.5, 1.5)
        cnn.bn1.bias.uniform_(-0.2, 0.2)
    mlp.eval()
    cnn.eval()

    x = torch.rand(BATCH, 1, 28, 28)
    save_tensor(x.numpy(), "input_0.pb")
    for model, stem in ((mlp, "mlp"), (cnn, "cnn")):
        with torch.no_grad():
            save_tensor(model(x).numpy(), f"{stem}_output_0.pb")
        export(model, x, f"{stem}_dynamic.onnx", dynamic=True)
        export(model, x, f"{stem}_static.onnx", dynamic=False)


if __name__ == "__main__":
    main()
