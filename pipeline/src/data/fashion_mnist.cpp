#include "retort/data/fashion_mnist.h"

#include <cstdlib>

namespace retort::data {
namespace {
constexpr const char* kDefaultDir = "/usr/share/datasets/fashion-mnist";
constexpr int64_t kSide = 28;
}  // namespace

const char* split_name(Split split) {
  return split == Split::kTrain ? "train" : "test";
}

std::string default_fashion_mnist_dir() {
  const char* from_env = std::getenv("RETORT_FASHION_MNIST_DIR");
  return from_env != nullptr && from_env[0] != '\0' ? std::string(from_env) : kDefaultDir;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> kNames = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                  "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                  "Bag",         "Ankle boot"};
  return kNames;
}

std::string fashion_mnist_images_path(Split split, const std::string& dir) {
  return dir + (split == Split::kTrain ? "/train" : "/t10k") + "-images-idx3-ubyte.gz";
}

std::string fashion_mnist_labels_path(Split split, const std::string& dir) {
  return dir + (split == Split::kTrain ? "/train" : "/t10k") + "-labels-idx1-ubyte.gz";
}

Expected<Dataset> load_fashion_mnist(Split split, const std::string& dir) {
  Expected<Dataset> dataset = load_idx_dataset(
      fashion_mnist_images_path(split, dir), fashion_mnist_labels_path(split, dir),
      std::string("fashion-mnist/") + split_name(split), fashion_mnist_class_names());
  if (!dataset.ok()) {
    if (dataset.status().code() != ErrorCode::kNotFound) return dataset.status();
    return Status(ErrorCode::kNotFound,
                  dataset.status().message() +
                      "; install the Debian package dataset-fashion-mnist, or set "
                      "RETORT_FASHION_MNIST_DIR to a folder holding its four .gz files");
  }
  if (dataset->height() != kSide || dataset->width() != kSide || dataset->channels() != 1) {
    return make_error(ErrorCode::kParse, "'", fashion_mnist_images_path(split, dir),
                      "': Fashion-MNIST images are [N, 28, 28], got ",
                      shape_to_string(dataset->images.shape()), "; is this the right folder?");
  }
  return dataset;
}

}  // namespace retort::data
