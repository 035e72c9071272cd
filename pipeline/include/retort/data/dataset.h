// An in-memory labelled image dataset and the operations recipes apply to it
// (slicing, leaving classes out, statistics).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/core/tensor.h"

namespace retort::data {

struct Dataset {
  Tensor images;                         // float32 [N, C, H, W], pixels in [0, 1]
  std::vector<int32_t> labels;           // N labels in [0, num_classes)
  int64_t num_classes = 0;               // classes the labels index (some may be absent)
  std::vector<std::string> class_names;  // num_classes names
  std::string name;                      // for messages and reports: "fashion-mnist/test"

  int64_t size() const { return images.empty() ? 0 : images.dim(0); }
  int64_t channels() const { return images.dim(1); }
  int64_t height() const { return images.dim(2); }
  int64_t width() const { return images.dim(3); }
  int64_t sample_numel() const { return channels() * height() * width(); }
  const float* sample(int64_t i) const { return images.data<float>() + i * sample_numel(); }
};

// Checks the invariants above (shapes, label count and range, class names); the error names
// the dataset and what is wrong.
Status validate(const Dataset& dataset);

// Loads a pair of uint8 IDX files: images [N, H, W] (stored as [N, 1, H, W]) or [N, C, H, W],
// scaled to [0, 1]; labels [N]. With `class_names` empty the classes are named "0", "1", ...
// and num_classes is the largest label + 1; otherwise labels must be below class_names.size().
Expected<Dataset> load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                                   const std::string& name,
                                   const std::vector<std::string>& class_names = {});

// Samples [offset, offset + count) as a new dataset (the images are copied). Fails with
// kInvalidArgument when the range does not lie inside the dataset.
Expected<Dataset> slice(const Dataset& dataset, int64_t offset, int64_t count);

// The dataset without the samples whose label is in `drop` (used to leave a class out).
// Labels keep their values and num_classes/class_names are unchanged, so a model trained on
// the result still has one output per original class. Fails on a class outside
// [0, num_classes).
Expected<Dataset> filter_classes(const Dataset& dataset, const std::vector<int>& drop);

// Samples per class: num_classes counts.
std::vector<int64_t> class_histogram(const Dataset& dataset);

// Per-channel mean and standard deviation (population, over N*H*W pixels), for the
// normalisation node a model puts first.
struct ChannelStats {
  std::vector<float> mean;
  std::vector<float> stddev;
};
Expected<ChannelStats> channel_stats(const Dataset& dataset);

}  // namespace retort::data
