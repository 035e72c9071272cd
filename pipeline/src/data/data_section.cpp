#include "retort/data/data_section.h"

#include <map>
#include <mutex>
#include <optional>

#include "retort/core/json_util.h"
#include "retort/data/fashion_mnist.h"

namespace retort::data {
namespace {

Expected<Dataset> first(Dataset set, const nlohmann::json& data, const char* key) {
  if (!data.contains(key)) return set;
  // Resolved sections were checked already; the message is the recipe check's all the same.
  const std::optional<int64_t> size = as_integer(data.at(key));
  if (!size || *size < 1)
    return make_error(ErrorCode::kInvalidArgument, "/data/", key,
                      ": expected an integer >= 1, found ", describe_json(data.at(key)));
  const int64_t n = *size;
  if (n >= set.size()) return set;
  return slice(set, 0, n);
}

// "class_names" when given (a non-empty list of strings), else empty.
Expected<std::vector<std::string>> class_names_of(const nlohmann::json& data) {
  std::vector<std::string> names;
  auto it = data.find("class_names");
  if (it == data.end()) return names;
  if (!it->is_array() || it->empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "/data/class_names: expected a non-empty array of strings, found ",
                      describe_json(*it));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& name = (*it)[i];
    if (!name.is_string()) {
      return make_error(ErrorCode::kInvalidArgument, json_pointer_append("/data/class_names", i),
                        ": expected a class name (a string), found ", describe_json(name));
    }
    names.push_back(name.get<std::string>());
  }
  return names;
}

Expected<DataSplits> load_uncached(const nlohmann::json& data) {
  const std::string kind = data.value("dataset", "fashion-mnist");
  RETORT_ASSIGN_OR_RETURN(std::vector<std::string> names, class_names_of(data));
  DataSplits splits;
  if (kind == "fashion-mnist") {
    // The ten Fashion-MNIST names unless the recipe renames the classes (one name each).
    const size_t count = fashion_mnist_class_names().size();
    if (!names.empty() && names.size() != count) {
      return make_error(ErrorCode::kInvalidArgument, "/data/class_names: Fashion-MNIST has ", count,
                        " classes but ", names.size(), " names are given; give one name per class");
    }
    const std::string dir = data.value("dir", default_fashion_mnist_dir());
    RETORT_ASSIGN_OR_RETURN(splits.train, load_fashion_mnist(Split::kTrain, dir));
    RETORT_ASSIGN_OR_RETURN(splits.test, load_fashion_mnist(Split::kTest, dir));
    if (!names.empty()) {
      splits.train.class_names = names;
      splits.test.class_names = names;
    }
  } else if (kind == "idx") {
    for (const char* key : {"train_images", "train_labels", "test_images", "test_labels"})
      if (!data.contains(key))
        return make_error(ErrorCode::kInvalidArgument, "data: \"dataset\": \"idx\" needs \"", key,
                          "\"");
    RETORT_ASSIGN_OR_RETURN(
        splits.train, load_idx_dataset(data.at("train_images").get<std::string>(),
                                       data.at("train_labels").get<std::string>(), "train", names));
    RETORT_ASSIGN_OR_RETURN(
        splits.test, load_idx_dataset(data.at("test_images").get<std::string>(),
                                      data.at("test_labels").get<std::string>(), "test", names));
  } else {
    return make_error(ErrorCode::kInvalidArgument, "data/dataset: unknown dataset '", kind,
                      "' (known: fashion-mnist, idx)");
  }
  RETORT_ASSIGN_OR_RETURN(splits.train, first(std::move(splits.train), data, "train_size"));
  RETORT_ASSIGN_OR_RETURN(splits.test, first(std::move(splits.test), data, "test_size"));
  return splits;
}

}  // namespace

Expected<std::shared_ptr<const DataSplits>> load_data_section(const nlohmann::json& data) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const DataSplits>> cache;
  const std::string key = data.dump();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  RETORT_ASSIGN_OR_RETURN(DataSplits splits, load_uncached(data));
  auto shared = std::make_shared<const DataSplits>(std::move(splits));
  cache[key] = shared;
  return shared;
}

}  // namespace retort::data
