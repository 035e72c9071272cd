#include "retort/data/data_section.h"

#include <map>
#include <mutex>

#include "retort/data/fashion_mnist.h"

namespace retort::data {
namespace {

Expected<Dataset> first(Dataset set, const nlohmann::json& data, const char* key) {
  if (!data.contains(key)) return set;
  const int64_t n = data.at(key).get<int64_t>();
  if (n >= set.size()) return set;
  return slice(set, 0, n);
}

Expected<DataSplits> load_uncached(const nlohmann::json& data) {
  const std::string kind = data.value("dataset", "fashion-mnist");
  std::vector<std::string> names;
  if (data.contains("class_names")) names = data.at("class_names").get<std::vector<std::string>>();
  DataSplits splits;
  if (kind == "fashion-mnist") {
    const std::string dir = data.value("dir", default_fashion_mnist_dir());
    RETORT_ASSIGN_OR_RETURN(splits.train, load_fashion_mnist(Split::kTrain, dir));
    RETORT_ASSIGN_OR_RETURN(splits.test, load_fashion_mnist(Split::kTest, dir));
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
