#include "retort/arch/build_model.h"

#include <algorithm>

#include "retort/arch/families.h"
#include "retort/arch/graph_builder.h"
#include "retort/arch/spec_reader.h"
#include "retort/engine/init.h"

namespace retort::arch {
namespace {

using nlohmann::json;

struct Family {
  const char* name;
  Status (*build)(FamilyContext&);
};

// Sorted by name.
constexpr Family kFamilies[] = {
    {"cnn", &build_cnn}, {"lenet-300-100", &build_lenet_300_100}, {"lenet5", &build_lenet5},
    {"mlp", &build_mlp}, {"plain-cnn", &build_plain_cnn},         {"resnet", &build_resnet},
};

Expected<const Family*> read_family(SpecReader& spec) {
  const json* arch = spec.raw("arch");
  if (arch == nullptr)
    return spec.error("arch", "required key is missing; say which architecture to build, one of: ",
                      join(known_architectures()));
  if (!arch->is_string())
    return spec.error("arch",
                      "expected the name of an architecture (one of: ", join(known_architectures()),
                      "), found ", describe_json(*arch));
  const std::string name = arch->get<std::string>();
  for (const Family& f : kFamilies)
    if (name == f.name) {
      spec.resolve("arch", name);
      return &f;
    }
  return spec.error("arch", "unknown architecture '", name, "'",
                    did_you_mean(name, known_architectures()),
                    "; known architectures: ", join(known_architectures()));
}

// Per-channel constant of shape [1, C, 1, 1].
Tensor channel_constant(const std::vector<double>& values) {
  std::vector<float> floats(values.begin(), values.end());
  return Tensor::from_vector<float>({1, static_cast<int64_t>(values.size()), 1, 1}, floats);
}

struct Normalization {
  std::vector<double> mean;
  std::vector<double> std;
};

Expected<Normalization> read_normalization(SpecReader& spec, int64_t channels) {
  static const json kDefault = {{"mean", kFashionMnistMean}, {"std", kFashionMnistStd}};
  RETORT_ASSIGN_OR_RETURN(SpecReader normalize, spec.get_object("normalize", &kDefault));
  Normalization n;
  const auto c = static_cast<size_t>(channels);
  RETORT_ASSIGN_OR_RETURN(n.mean, normalize.get_number_or_list("mean", kFashionMnistMean, c));
  RETORT_ASSIGN_OR_RETURN(n.std, normalize.get_number_or_list("std", kFashionMnistStd, c));
  for (size_t i = 0; i < n.std.size(); ++i)
    if (!(n.std[i] > 0.0))
      return normalize.error("std", "every standard deviation must be > 0, found ", n.std[i],
                             n.std.size() > 1 ? detail::str_cat(" for channel ", i) : "");
  RETORT_RETURN_IF_ERROR(normalize.finish("\"normalize\" (use \"mean\" and \"std\")"));
  return n;
}

Expected<Model> build(const json& spec_json, uint64_t seed, const std::string& json_path,
                      bool initialize, json* resolved) {
  RETORT_ASSIGN_OR_RETURN(SpecReader spec, SpecReader::open(spec_json, json_path, resolved));
  RETORT_ASSIGN_OR_RETURN(const Family* family, read_family(spec));

  RETORT_ASSIGN_OR_RETURN(
      std::vector<int64_t> input,
      spec.get_int_list("input", std::vector<int64_t>{1, 28, 28}, 1, 3, kMaxInputExtent));
  RETORT_ASSIGN_OR_RETURN(auto class_names, spec.get_optional_string_list("class_names"));
  const std::optional<int64_t> default_classes =
      class_names ? static_cast<int64_t>(class_names->size()) : 10;
  RETORT_ASSIGN_OR_RETURN(int64_t classes,
                          spec.get_int("classes", default_classes, 1, kMaxFeatures));
  if (class_names && static_cast<int64_t>(class_names->size()) != classes)
    return spec.error("class_names", "has ", class_names->size(), " name",
                      class_names->size() == 1 ? "" : "s", " but \"classes\" is ", classes,
                      "; give one name per class (or drop \"classes\")");
  RETORT_ASSIGN_OR_RETURN(Normalization norm, read_normalization(spec, input[0]));
  RETORT_ASSIGN_OR_RETURN(std::string init_name, spec.get_choice("init", std::string("kaiming"),
                                                                 engine::init_kind_names()));
  RETORT_ASSIGN_OR_RETURN(engine::InitKind init, engine::parse_init_kind(init_name));

  Model model;
  model.graph.name = family->name;
  GraphBuilder graph(model, init, seed, initialize);
  std::string x = graph.input("input", input);
  x = graph.sub_constant(kNormalizeSub, x, kNormalizeMean, channel_constant(norm.mean));
  x = graph.div_constant(kNormalizeDiv, x, kNormalizeStd, channel_constant(norm.std));

  FamilyContext ctx{spec, graph, x, classes};
  RETORT_RETURN_IF_ERROR(family->build(ctx));
  if (!graph.status().ok())
    return make_error(graph.status().code(), json_path.empty() ? "/" : json_path, ": ",
                      graph.status().message());
  RETORT_RETURN_IF_ERROR(spec.finish(detail::str_cat("architecture '", family->name, "'")));
  graph.output(kLogits);

  model.metadata[kInputConventionKey] = kInputConvention;
  model.metadata["retort.arch"] = resolved->dump();
  model.metadata[kConstantsKey] = json({kNormalizeMean, kNormalizeStd}).dump();
  if (class_names) set_class_names(model, *class_names);
  return model;
}

}  // namespace

Expected<Model> build_model(const json& spec, uint64_t seed, const std::string& json_path) {
  json resolved = json::object();
  return build(spec, seed, json_path, /*initialize=*/true, &resolved);
}

Expected<json> resolve_spec(const json& spec, const std::string& json_path) {
  json resolved = json::object();
  RETORT_ASSIGN_OR_RETURN(Model unused, build(spec, 0, json_path, /*initialize=*/false, &resolved));
  (void)unused;
  return resolved;
}

std::vector<std::string> known_architectures() {
  std::vector<std::string> names;
  for (const Family& f : kFamilies) names.emplace_back(f.name);
  return names;
}

}  // namespace retort::arch
