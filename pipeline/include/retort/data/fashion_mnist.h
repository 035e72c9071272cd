// Fashion-MNIST (Xiao et al. 2017): 28x28 grey images of 10 clothing classes, 60,000 for
// training and 10,000 for testing, as four gzip'd IDX files (Debian: dataset-fashion-mnist).
#pragma once

#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/data/dataset.h"

namespace retort::data {

enum class Split { kTrain, kTest };

const char* split_name(Split split);  // "train", "test"

// $RETORT_FASHION_MNIST_DIR when set and not empty, else /usr/share/datasets/fashion-mnist.
std::string default_fashion_mnist_dir();

// "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
// "Ankle boot" (label order).
const std::vector<std::string>& fashion_mnist_class_names();

// The files of a split inside `dir`: train-images-idx3-ubyte.gz / t10k-images-idx3-ubyte.gz...
std::string fashion_mnist_images_path(Split split, const std::string& dir);
std::string fashion_mnist_labels_path(Split split, const std::string& dir);

// Loads a split as float32 [N, 1, 28, 28] in [0, 1] with the ten class names; the dataset is
// named "fashion-mnist/train" or "fashion-mnist/test". A missing file's error says how to
// install the data or where to point RETORT_FASHION_MNIST_DIR.
Expected<Dataset> load_fashion_mnist(Split split,
                                     const std::string& dir = default_fashion_mnist_dir());

}  // namespace retort::data
