// retort eval: metrics of one ONNX model on the test data.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "data_options.h"
#include "retort/engine/flops.h"
#include "retort/engine/plan.h"
#include "retort/engine/speed.h"
#include "retort/engine/trainer.h"
#include "retort/graph/input_convention.h"
#include "retort/graph/model_size.h"
#include "retort/graph/onnx_io.h"

namespace retort::cli {
namespace {

const char* kUsage =
    "usage: retort eval MODEL.onnx [--data JSON|FILE] [--test-size N] [--batch N] [--threads N]\n"
    "                   [--scale F] [--mean M[,M...]] [--std S[,S...]] [--no-speed] [--json]\n"
    "\n"
    "Prints accuracy, loss, parameters, non-zero parameters, bytes on disk, FLOPs, latency at\n"
    "batch 1 (median, p99) and throughput at batch 128 of MODEL.onnx on the test data (default\n"
    "Fashion-MNIST; --data takes a recipe's \"data\" section, inline or as a file, checked as in a\n"
    "recipe: a value a recipe rejects exits with 2). Models retort wrote take raw [0,1] NCHW\n"
    "pixels; for a model that expects something else, state its convention with\n"
    "--scale/--mean/--std (applied in that order).\n"
    "QDQ (int8) models run on the engine's int8 kernels; their Conv/Gemm/MatMul nodes are listed\n"
    "as int8_nodes, or as float32_nodes with the reason. --json prints one JSON object.\n";

Expected<std::vector<float>> float_list(const std::string& text, const std::string& what) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    out.push_back(std::strtof(item.c_str(), &end));
    if (end == item.c_str() || *end != '\0')
      return make_error(ErrorCode::kInvalidArgument, what,
                        ": expected numbers separated by commas, got '", text, "'");
  }
  return out;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  auto args =
      parse_args(argc, argv, 2,
                 {"--data", "--test-size", "--batch", "--threads", "--scale", "--mean", "--std"},
                 {"--json", "--no-speed", "--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has("--help")) return std::fputs(kUsage, stdout), kExitOk;
  if (args->positional.size() != 1)
    return fail(make_error(ErrorCode::kInvalidArgument, "eval takes exactly one MODEL.onnx"),
                kExitUsage);
  if (Status s = apply_threads(*args); !s.ok()) return fail(s, kExitUsage);
  auto batch = args->get_int("--batch", 256, 1);
  auto mean = float_list(args->get("--mean", "0"), "--mean");
  auto stddev = float_list(args->get("--std", "1"), "--std");
  auto scale = float_list(args->get("--scale", "1"), "--scale");
  for (const Status* s : {&batch.status(), &mean.status(), &stddev.status(), &scale.status()})
    if (!s->ok()) return fail(*s, kExitUsage);
  // The data section is the user's input, checked as a recipe's before any work.
  auto section = resolve_data_option(*args);
  if (!section.ok()) return fail(section.status(), kExitUsage);
  const std::string path = args->positional[0];
  auto model = load_onnx(path);
  if (!model.ok()) return fail(model.status(), kExitFailed);
  auto data = data::load_data_section(*section);
  if (!data.ok()) return fail(data.status(), kExitFailed);
  const data::Dataset& test = (*data)->test;
  const bool convention_given = args->options.count("--scale") || args->options.count("--mean") ||
                                args->options.count("--std");
  if (convention_given || model->metadata.count(kInputConventionKey) == 0) {
    // Not a retort model (or told otherwise): bake the stated convention in (default raw [0,1]).
    Status s = bake_input_convention(*model, test.channels(), test.height(), test.width(),
                                     (*scale)[0], *mean, *stddev);
    if (!s.ok()) return fail(s.with_context(path), kExitFailed);
  }
  auto eval = engine::evaluate_classifier(*model, test, *batch);
  if (!eval.ok()) return fail(eval.status().with_context(path), kExitFailed);
  auto cost = engine::count_compute(*model);
  if (!cost.ok()) return fail(cost.status().with_context(path), kExitFailed);
  auto size = model_file_size(path);
  if (!size.ok()) return fail(size.status(), kExitFailed);
  nlohmann::json j = {{"model", path},
                      {"images", eval->count},
                      {"accuracy", eval->accuracy},
                      {"loss", eval->loss},
                      {"parameters", model->parameter_count()},
                      {"nonzero_parameters", model->nonzero_parameters()},
                      {"bytes", size->bytes},
                      {"gzip_bytes", size->gzip_bytes},
                      {"macs", cost->macs},
                      {"flops", cost->flops}};
  // A QDQ model: which of its Conv/Gemm/MatMul nodes the engine runs on int8 kernels.
  const auto& nodes = model->graph.nodes;
  if (std::any_of(nodes.begin(), nodes.end(), [](const Node& n) {
        return n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear";
      })) {
    engine::PlanOptions po;
    po.lower_int8 = true;
    auto plan = engine::Plan::compile(*model, po);
    if (!plan.ok()) return fail(plan.status().with_context(path), kExitFailed);
    const engine::Int8Lowering& lowering = (*plan)->int8_lowering();
    nlohmann::json int8 = nlohmann::json::array(), float32 = nlohmann::json::array();
    for (const Node& n : nodes) {
      if (n.op_type != "Conv" && n.op_type != "Gemm" && n.op_type != "MatMul") continue;
      if (lowering.is_lowered(n.name)) {
        int8.push_back(n.name);
      } else {
        const std::string why = lowering.reason(n.name);
        float32.push_back({{"node", n.name}, {"reason", why.empty() ? "not quantized" : why}});
      }
    }
    j["int8_nodes"] = int8;
    j["float32_nodes"] = float32;
  }
  if (!args->has("--no-speed")) {
    auto speed = engine::measure_speed(*model);
    if (!speed.ok()) return fail(speed.status().with_context(path), kExitFailed);
    j["latency_ms_median"] = speed->latency_ms_median;
    if (speed->latency_batch != 1) j["latency_batch"] = speed->latency_batch;
    j["latency_ms_p99"] = speed->latency_ms_p99;
    j["throughput"] = speed->throughput;
    j["throughput_batch"] = speed->throughput_batch;
    j["threads"] = speed->threads;
  }
  if (args->has("--json")) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (const auto& [k, v] : j.items()) std::printf("%-20s %s\n", k.c_str(), v.dump().c_str());
  }
  return kExitOk;
}

}  // namespace retort::cli
