#include "retort/data/dataset.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "retort/core/checked_alloc.h"
#include "retort/data/idx.h"

namespace retort::data {
namespace {

std::vector<std::string> numbered_class_names(int64_t count) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) names.push_back(std::to_string(i));
  return names;
}

// A dataset with the same layout and classes as `like` holding `count` samples.
Dataset empty_like(const Dataset& like, int64_t count, std::string name) {
  Dataset out;
  out.images = Tensor(DType::kFloat32, {count, like.channels(), like.height(), like.width()});
  out.labels.resize(static_cast<size_t>(count));
  out.num_classes = like.num_classes;
  out.class_names = like.class_names;
  out.name = std::move(name);
  return out;
}

}  // namespace

Status validate(const Dataset& dataset) {
  const std::string& name = dataset.name;
  if (dataset.images.empty() || dataset.images.dtype() != DType::kFloat32 ||
      dataset.images.rank() != 4) {
    return make_error(ErrorCode::kInvalidArgument, "dataset '", name,
                      "': images must be a float32 [N, C, H, W] tensor, got ",
                      dataset.images.empty() ? "none" : dtype_name(dataset.images.dtype()), " ",
                      shape_to_string(dataset.images.shape()));
  }
  if (static_cast<int64_t>(dataset.labels.size()) != dataset.size()) {
    return make_error(ErrorCode::kInvalidArgument, "dataset '", name, "': ", dataset.size(),
                      " images but ", dataset.labels.size(), " labels; give one label per image");
  }
  if (dataset.num_classes < 1 ||
      static_cast<int64_t>(dataset.class_names.size()) != dataset.num_classes) {
    return make_error(ErrorCode::kInvalidArgument, "dataset '", name, "': num_classes is ",
                      dataset.num_classes, " but ", dataset.class_names.size(),
                      " class names are given; give one name per class (at least one)");
  }
  for (size_t i = 0; i < dataset.labels.size(); ++i) {
    if (dataset.labels[i] < 0 || dataset.labels[i] >= dataset.num_classes) {
      return make_error(ErrorCode::kInvalidArgument, "dataset '", name, "': label ",
                        dataset.labels[i], " of sample ", i, " is outside [0, ",
                        dataset.num_classes, ")");
    }
  }
  return Status::Ok();
}

Expected<Dataset> load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                                   const std::string& name,
                                   const std::vector<std::string>& class_names) {
  // The images are streamed and converted chunk by chunk: no full uint8 copy is touched.
  RETORT_ASSIGN_OR_RETURN(
      IdxReader images,
      IdxReader::open(images_path, {idx_magic(IdxType::kUInt8, 3), idx_magic(IdxType::kUInt8, 4)}));
  RETORT_ASSIGN_OR_RETURN(Tensor raw_labels,
                          read_idx(labels_path, {idx_magic(IdxType::kUInt8, 1)}));
  const int64_t n = images.shape()[0];
  if (raw_labels.dim(0) != n) {
    return make_error(ErrorCode::kInvalidArgument, "dataset '", name, "': images file '",
                      images_path, "' holds ", n, " images but labels file '", labels_path,
                      "' holds ", raw_labels.dim(0),
                      " labels; pass the two files of the same split");
  }
  Shape shape = images.shape();
  if (shape.size() == 3) shape.insert(shape.begin() + 1, 1);  // [N, H, W] -> [N, 1, H, W]
  if (shape[1] == 0 || shape[2] == 0 || shape[3] == 0) {
    return make_error(ErrorCode::kInvalidArgument, "'", images_path, "': images of shape ",
                      shape_to_string(images.shape()), " are empty");
  }

  Dataset dataset;
  dataset.name = name;
  RETORT_ASSIGN_OR_RETURN(
      dataset.images, allocate_tensor(DType::kFloat32, shape, "'" + images_path + "' as float32"));
  std::array<float, 256> scale;  // exact v / 255 for every byte value
  for (int v = 0; v < 256; ++v) scale[v] = static_cast<float>(v) / 255.0f;
  std::array<uint8_t, 1 << 16> chunk;
  float* dst = dataset.images.data<float>();
  for (int64_t done = 0, total = images.numel(); done < total;) {
    const auto count = std::min<int64_t>(total - done, static_cast<int64_t>(chunk.size()));
    RETORT_RETURN_IF_ERROR(images.read(chunk.data(), count));
    for (int64_t i = 0; i < count; ++i) dst[done + i] = scale[chunk[i]];
    done += count;
  }
  RETORT_RETURN_IF_ERROR(images.finish());

  const uint8_t* labels = raw_labels.data<uint8_t>();
  dataset.labels.assign(labels, labels + n);
  int32_t max_label = 0;
  for (int32_t label : dataset.labels) max_label = std::max(max_label, label);
  if (class_names.empty()) {
    dataset.num_classes = n > 0 ? int64_t{max_label} + 1 : 1;
    dataset.class_names = numbered_class_names(dataset.num_classes);
  } else {
    if (max_label >= static_cast<int64_t>(class_names.size())) {
      return make_error(ErrorCode::kInvalidArgument, "'", labels_path, "': label ", max_label,
                        " is outside the ", class_names.size(), " classes of dataset '", name,
                        "'; is this the right labels file?");
    }
    dataset.num_classes = static_cast<int64_t>(class_names.size());
    dataset.class_names = class_names;
  }
  return dataset;
}

Expected<Dataset> slice(const Dataset& dataset, int64_t offset, int64_t count) {
  RETORT_RETURN_IF_ERROR(validate(dataset));
  const int64_t n = dataset.size();
  if (offset < 0 || count < 0 || offset > n || count > n - offset) {
    return make_error(ErrorCode::kInvalidArgument, "slice of dataset '", dataset.name,
                      "': samples [", offset, ", ", offset + count, ") are out of range for ", n,
                      " samples; use 0 <= offset <= ", n, " and 0 <= count <= ", n, " - offset");
  }
  Dataset out = empty_like(dataset, count,
                           detail::str_cat(dataset.name, "[", offset, ":", offset + count, "]"));
  if (count > 0) {
    std::memcpy(out.images.data<float>(), dataset.sample(offset),
                static_cast<size_t>(count * dataset.sample_numel()) * sizeof(float));
  }
  std::copy_n(dataset.labels.begin() + offset, count, out.labels.begin());
  return out;
}

Expected<Dataset> filter_classes(const Dataset& dataset, const std::vector<int>& drop) {
  RETORT_RETURN_IF_ERROR(validate(dataset));
  std::vector<char> dropped(static_cast<size_t>(dataset.num_classes), 0);
  std::string dropped_names;
  for (int c : drop) {
    if (c < 0 || c >= dataset.num_classes) {
      return make_error(ErrorCode::kInvalidArgument, "filter_classes on dataset '", dataset.name,
                        "': class ", c, " does not exist; classes are 0..",
                        dataset.num_classes - 1);
    }
    if (dropped[c]) continue;
    dropped[c] = 1;
    dropped_names += (dropped_names.empty() ? "" : ", ") + dataset.class_names[c];
  }
  int64_t kept = 0;
  for (int32_t label : dataset.labels) kept += dropped[label] ? 0 : 1;
  Dataset out =
      empty_like(dataset, kept,
                 dropped_names.empty() ? dataset.name : dataset.name + " without " + dropped_names);
  const auto sample_bytes = static_cast<size_t>(dataset.sample_numel()) * sizeof(float);
  int64_t j = 0;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    if (dropped[dataset.labels[i]]) continue;
    std::memcpy(out.images.data<float>() + j * dataset.sample_numel(), dataset.sample(i),
                sample_bytes);
    out.labels[j++] = dataset.labels[i];
  }
  return out;
}

std::vector<int64_t> class_histogram(const Dataset& dataset) {
  std::vector<int64_t> counts(static_cast<size_t>(dataset.num_classes), 0);
  for (int32_t label : dataset.labels) {
    if (label >= 0 && label < dataset.num_classes) ++counts[label];
  }
  return counts;
}

Expected<ChannelStats> channel_stats(const Dataset& dataset) {
  RETORT_RETURN_IF_ERROR(validate(dataset));
  if (dataset.size() == 0) {
    return make_error(ErrorCode::kInvalidArgument, "channel_stats: dataset '", dataset.name,
                      "' has no samples");
  }
  const int64_t c_count = dataset.channels();
  const int64_t plane = dataset.height() * dataset.width();
  const double pixels = static_cast<double>(dataset.size() * plane);
  ChannelStats stats;
  for (int64_t c = 0; c < c_count; ++c) {
    // Two passes (mean, then squared deviations) keep the variance accurate.
    double sum = 0.0;
    for (int64_t i = 0; i < dataset.size(); ++i) {
      const float* p = dataset.sample(i) + c * plane;
      for (int64_t k = 0; k < plane; ++k) sum += p[k];
    }
    const double mean = sum / pixels;
    double squares = 0.0;
    for (int64_t i = 0; i < dataset.size(); ++i) {
      const float* p = dataset.sample(i) + c * plane;
      for (int64_t k = 0; k < plane; ++k) squares += (p[k] - mean) * (p[k] - mean);
    }
    stats.mean.push_back(static_cast<float>(mean));
    stats.stddev.push_back(static_cast<float>(std::sqrt(squares / pixels)));
  }
  return stats;
}

}  // namespace retort::data
