#include <algorithm>
#include <filesystem>

#include "recipe/sections.h"
#include "retort/core/json_util.h"
#include "retort/core/text.h"
#include "retort/data/fashion_mnist.h"
#include "retort/data/idx.h"

namespace retort::recipe::detail {
namespace {

using data::Split;
using nlohmann::json;

constexpr const char* kFashionMnist = "fashion-mnist";
constexpr const char* kIdx = "idx";
constexpr uint32_t kImages3 = data::idx_magic(data::IdxType::kUInt8, 3);
constexpr uint32_t kImages4 = data::idx_magic(data::IdxType::kUInt8, 4);
constexpr uint32_t kLabels = data::idx_magic(data::IdxType::kUInt8, 1);

const std::vector<std::string>& data_keys() {
  static const std::vector<std::string> kKeys = {"dataset",      "dir",         "train_images",
                                                 "train_labels", "test_images", "test_labels",
                                                 "train_size",   "test_size",   "class_names"};
  return kKeys;
}

std::string file_key(Split split, const char* what) {
  return std::string(data::split_name(split)) + "_" + what;
}

// One split's pair of files, checked from their headers (and labels, when `labels_out` asks).
struct SplitFiles {
  std::string images;
  std::string labels;
  std::string images_where;  // JSON pointers for messages
  std::string labels_where;
};

struct SplitFacts {
  int64_t count = 0;
  std::vector<int64_t> image_shape;  // [C, H, W]
  int64_t max_label = -1;
};

std::optional<SplitFacts> check_split(const SplitFiles& files, bool read_labels,
                                      const Checker& checker) {
  auto images = data::IdxReader::open(files.images, {kImages3, kImages4});
  auto labels = data::IdxReader::open(files.labels, {kLabels});
  if (!images.ok()) checker.add(files.images_where, images.status().message());
  if (!labels.ok()) checker.add(files.labels_where, labels.status().message());
  if (!images.ok() || !labels.ok()) return std::nullopt;
  SplitFacts facts;
  const Shape& shape = images->shape();
  facts.count = shape[0];
  facts.image_shape =
      shape.size() == 3 ? Shape{1, shape[1], shape[2]} : Shape{shape[1], shape[2], shape[3]};
  if (labels->shape()[0] != facts.count) {
    checker.add(files.labels_where, "'" + files.labels + "' holds " +
                                        std::to_string(labels->shape()[0]) + " labels but '" +
                                        files.images + "' holds " + std::to_string(facts.count) +
                                        " images; the two files must describe the same samples");
    return std::nullopt;
  }
  if (read_labels) {
    auto tensor = data::read_idx(files.labels, {kLabels});
    if (!tensor.ok()) {
      checker.add(files.labels_where, tensor.status().message());
      return std::nullopt;
    }
    for (uint8_t label : tensor->span<uint8_t>())
      facts.max_label = std::max<int64_t>(facts.max_label, label);
  }
  return facts;
}

std::optional<std::string> path_at(const json& section, const std::string& key,
                                   const Checker& checker) {
  const std::string where = json_pointer_append("/data", key);
  auto it = section.find(key);
  if (it == section.end()) {
    checker.add(where,
                "required for \"dataset\": \"idx\"; give the path of the " +
                    std::string(key.find("images") != std::string::npos ? "images" : "labels") +
                    " IDX file (relative paths start at the recipe's folder)");
    return std::nullopt;
  }
  if (!it->is_string() || it->get<std::string>().empty()) {
    checker.add(where, "expected a file path, found " + describe_json(*it));
    return std::nullopt;
  }
  return checker.absolute(it->get<std::string>());
}

std::optional<std::vector<std::string>> class_names_at(const json& section,
                                                       const Checker& checker) {
  auto it = section.find("class_names");
  if (it == section.end()) return std::nullopt;
  if (!it->is_array() || it->empty()) {
    checker.add("/data/class_names",
                "expected a non-empty array of strings, found " + describe_json(*it));
    return std::nullopt;
  }
  std::vector<std::string> names;
  bool ok = true;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& name = (*it)[i];
    if (name.is_string()) {
      names.push_back(name.get<std::string>());
    } else {
      checker.add(json_pointer_append("/data/class_names", i),
                  "expected a class name (a string), found " + describe_json(name));
      ok = false;
    }
  }
  return ok ? std::optional(names) : std::nullopt;
}

}  // namespace

json resolve_data(const json* section_in, const Checker& checker, DataFacts* facts) {
  static const json kEmpty = json::object();
  const json& section = section_in == nullptr ? kEmpty : *section_in;
  if (!section.is_object()) {
    checker.add("/data", "expected an object such as {\"dataset\": \"fashion-mnist\"}, found " +
                             describe_json(section));
    return json::object();
  }
  checker.check_keys(section, "/data", data_keys(), "\"data\"");

  std::string dataset = kFashionMnist;
  if (auto it = section.find("dataset"); it != section.end()) {
    const std::vector<std::string> known = {kFashionMnist, kIdx};
    if (!it->is_string() ||
        std::find(known.begin(), known.end(), it->get<std::string>()) == known.end()) {
      checker.add("/data/dataset",
                  "expected \"fashion-mnist\" or \"idx\", found " + describe_json(*it) +
                      (it->is_string() ? did_you_mean(it->get<std::string>(), known) : ""));
      return json::object();
    }
    dataset = it->get<std::string>();
  }
  json out = {{"dataset", dataset}};

  std::optional<uint64_t> sizes[2];
  const Split splits[2] = {Split::kTrain, Split::kTest};
  for (int s = 0; s < 2; ++s) {
    const std::string key = file_key(splits[s], "size");
    if (auto it = section.find(key); it != section.end())
      sizes[s] = checker.unsigned_at(*it, json_pointer_append("/data", key), 1);
  }
  const std::optional<std::vector<std::string>> class_names = class_names_at(section, checker);

  SplitFiles files[2];
  if (dataset == kFashionMnist) {
    for (const char* key : {"train_images", "train_labels", "test_images", "test_labels"})
      if (section.contains(key))
        checker.add(json_pointer_append("/data", key),
                    "only for \"dataset\": \"idx\"; Fashion-MNIST files are found in \"dir\"");
    std::string dir = data::default_fashion_mnist_dir();
    std::string dir_where = "/data";
    if (auto it = section.find("dir"); it != section.end()) {
      dir_where = "/data/dir";
      if (!it->is_string() || it->get<std::string>().empty()) {
        checker.add(dir_where, "expected a folder path, found " + describe_json(*it));
        return out;
      }
      dir = it->get<std::string>();
    }
    dir = checker.absolute(dir);
    out["dir"] = dir;
    if (!std::filesystem::is_directory(dir)) {
      checker.add(dir_where,
                  "Fashion-MNIST folder '" + dir +
                      "' not found; install the Debian package dataset-fashion-mnist, or set "
                      "\"dir\" (or RETORT_FASHION_MNIST_DIR) to the folder holding "
                      "train-images-idx3-ubyte.gz and the three other files");
      return out;
    }
    for (int s = 0; s < 2; ++s)
      files[s] = {data::fashion_mnist_images_path(splits[s], dir),
                  data::fashion_mnist_labels_path(splits[s], dir), dir_where, dir_where};
    const auto count = static_cast<int64_t>(data::fashion_mnist_class_names().size());
    if (class_names && static_cast<int64_t>(class_names->size()) != count)
      checker.add("/data/class_names", "Fashion-MNIST has " + std::to_string(count) +
                                           " classes but " + std::to_string(class_names->size()) +
                                           " names are given; give one name per class");
    facts->num_classes = count;
  } else {
    for (int s = 0; s < 2; ++s) {
      const std::string images_key = file_key(splits[s], "images");
      const std::string labels_key = file_key(splits[s], "labels");
      auto images = path_at(section, images_key, checker);
      auto labels = path_at(section, labels_key, checker);
      if (images) out[images_key] = *images;
      if (labels) out[labels_key] = *labels;
      files[s] = {images.value_or(""), labels.value_or(""),
                  json_pointer_append("/data", images_key),
                  json_pointer_append("/data", labels_key)};
    }
    if (section.contains("dir"))
      checker.add("/data/dir",
                  "only for \"dataset\": \"fashion-mnist\"; for \"idx\" give the four file paths");
  }
  if (files[0].images.empty() || files[0].labels.empty() || files[1].images.empty() ||
      files[1].labels.empty())
    return out;

  // The headers are cheap to read; labels are read for "idx" to learn how many classes there are.
  const bool read_labels = dataset == kIdx;
  std::optional<SplitFacts> found[2];
  for (int s = 0; s < 2; ++s) found[s] = check_split(files[s], read_labels, checker);
  for (int s = 0; s < 2; ++s) {
    if (!found[s]) continue;
    const std::string key = file_key(splits[s], "size");
    if (sizes[s] && static_cast<int64_t>(*sizes[s]) > found[s]->count) {
      checker.add(json_pointer_append("/data", key),
                  "asks for " + std::to_string(*sizes[s]) + " samples but '" + files[s].images +
                      "' holds " + std::to_string(found[s]->count) + "; use at most " +
                      std::to_string(found[s]->count) + " or leave it out to use all");
    }
    out[key] = sizes[s] ? static_cast<int64_t>(*sizes[s]) : found[s]->count;
  }
  if (found[0] && found[1] && found[0]->image_shape != found[1]->image_shape) {
    checker.add(files[1].images_where, "test images are " + shape_to_string(found[1]->image_shape) +
                                           " but training images are " +
                                           shape_to_string(found[0]->image_shape) +
                                           "; both splits must have the same image size");
  } else if (found[0]) {
    facts->image_shape = found[0]->image_shape;
  }
  if (read_labels && found[0] && found[1]) {
    const int64_t classes = std::max(found[0]->max_label, found[1]->max_label) + 1;
    if (class_names && static_cast<int64_t>(class_names->size()) < classes) {
      checker.add("/data/class_names",
                  std::to_string(class_names->size()) +
                      " names are given but the labels go up to " + std::to_string(classes - 1) +
                      "; give one name per class (" + std::to_string(classes) + ")");
    }
    facts->num_classes = class_names ? static_cast<int64_t>(class_names->size()) : classes;
  }
  if (class_names) {
    out["class_names"] = *class_names;
  } else if (dataset == kFashionMnist) {
    out["class_names"] = data::fashion_mnist_class_names();
  }
  return out;
}

}  // namespace retort::recipe::detail
