// The retort command line. Exit codes: 0 success, 1 the work failed, 2 bad usage.
#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/data/fashion_mnist.h"
#include "retort/engine/flops.h"
#include "retort/engine/trainer.h"
#include "retort/graph/onnx_io.h"

namespace {

using namespace retort;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

const char* kUsage =
    "usage: retort <command> [options]\n"
    "\n"
    "commands:\n"
    "  train   train a built-in architecture on Fashion-MNIST and save it as ONNX\n"
    "  eval    evaluate an ONNX classifier on the Fashion-MNIST test set\n"
    "\n"
    "options: retort <command> --help\n"
    "         retort --version\n";

const char* kTrainUsage =
    "usage: retort train [--spec JSON|FILE] [--epochs N] [--batch N] [--lr F] [--optimizer sgd|adamw]\n"
    "                    [--train-size N] [--test-size N] [--seed N] [--threads N] [--out FILE.onnx]\n"
    "\n"
    "Trains the architecture of --spec (default {\"arch\":\"mlp\",\"hidden\":[256,128]}) on the first\n"
    "--train-size Fashion-MNIST training images (default all 60000), prints the test accuracy on the\n"
    "first --test-size test images (default all 10000) and saves the model to --out.\n";

const char* kEvalUsage =
    "usage: retort eval MODEL.onnx [--test-size N] [--batch N] [--threads N] [--json]\n"
    "\n"
    "Prints top-1 accuracy, loss, parameter count and FLOPs of MODEL.onnx on the Fashion-MNIST test\n"
    "set (raw [0,1] NCHW pixels in). --json prints one JSON object.\n";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::vector<std::string> flags;
  bool has_flag(const std::string& f) const { return std::find(flags.begin(), flags.end(), f) != flags.end(); }
};

// Parses "--key value" options (those listed in `valued`) and "--flag" switches.
Expected<Args> parse_args(int argc, char** argv, int first, const std::vector<std::string>& valued,
                          const std::vector<std::string>& switches) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      args.positional.push_back(a);
      continue;
    }
    if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
      args.flags.push_back(a);
    } else if (std::find(valued.begin(), valued.end(), a) != valued.end()) {
      if (i + 1 >= argc) return make_error(ErrorCode::kInvalidArgument, "option ", a, " needs a value");
      args.options[a] = argv[++i];
    } else {
      return make_error(ErrorCode::kInvalidArgument, "unknown option ", a);
    }
  }
  return args;
}

Expected<int64_t> int_option(const Args& args, const std::string& key, int64_t fallback, int64_t min) {
  auto it = args.options.find(key);
  if (it == args.options.end()) return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (end == it->second.c_str() || *end != '\0' || v < min)
    return make_error(ErrorCode::kInvalidArgument, key, ": expected an integer >= ", min, ", got '", it->second, "'");
  return static_cast<int64_t>(v);
}

Expected<double> float_option(const Args& args, const std::string& key, double fallback) {
  auto it = args.options.find(key);
  if (it == args.options.end()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || *end != '\0' || !(v > 0))
    return make_error(ErrorCode::kInvalidArgument, key, ": expected a positive number, got '", it->second, "'");
  return v;
}

Expected<data::Dataset> load_split(data::Split split, int64_t count) {
  RETORT_ASSIGN_OR_RETURN(data::Dataset set, data::load_fashion_mnist(split));
  if (count <= 0 || count >= set.size()) return set;
  return data::slice(set, 0, count);
}

Expected<nlohmann::json> read_spec(const std::string& text) {
  std::string source = text;
  if (!text.empty() && text.front() != '{') {
    std::ifstream in(text);
    if (!in) return make_error(ErrorCode::kNotFound, "--spec: no such file '", text, "' (pass a JSON object or a file)");
    std::stringstream ss;
    ss << in.rdbuf();
    source = ss.str();
  }
  try {
    return nlohmann::json::parse(source);
  } catch (const nlohmann::json::parse_error& e) {
    return make_error(ErrorCode::kParse, "--spec: invalid JSON: ", e.what());
  }
}

void apply_threads(const Args& args) {
  auto it = args.options.find("--threads");
  if (it != args.options.end()) omp_set_num_threads(std::max(1, std::atoi(it->second.c_str())));
}

// A live progress line on a terminal; one line per epoch otherwise.
bool print_progress(const engine::TrainProgress& p) {
  static const bool tty = isatty(STDERR_FILENO);
  const double eta = p.step ? p.seconds / (p.epoch * p.steps_per_epoch + p.step) *
                                  ((p.epochs - p.epoch) * p.steps_per_epoch - p.step)
                            : 0;
  if (tty) {
    std::fprintf(stderr, "\r  epoch %d/%d  step %lld/%lld  loss %.4f  acc %.4f  lr %.4g  eta %.0fs   ", p.epoch + 1,
                 p.epochs, static_cast<long long>(p.step), static_cast<long long>(p.steps_per_epoch), p.loss,
                 p.accuracy, p.learning_rate, eta);
    if (p.step == p.steps_per_epoch) std::fputc('\n', stderr);
  } else if (p.step == p.steps_per_epoch) {
    std::fprintf(stderr, "epoch %d/%d: loss %.4f, train accuracy %.4f, %.1fs\n", p.epoch + 1, p.epochs, p.loss,
                 p.accuracy, p.seconds);
  }
  return true;
}

int fail(const Status& s, int code) {
  std::fprintf(stderr, "retort: error: %s\n", s.message().c_str());
  return code;
}

int cmd_train(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2,
                         {"--spec", "--epochs", "--batch", "--lr", "--optimizer", "--train-size", "--test-size",
                          "--seed", "--threads", "--out"},
                         {"--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has_flag("--help")) return std::fputs(kTrainUsage, stdout), 0;
  if (!args->positional.empty())
    return fail(make_error(ErrorCode::kInvalidArgument, "unexpected argument '", args->positional[0], "'"), kExitUsage);
  apply_threads(*args);
  auto spec = read_spec(args->options.count("--spec") ? args->options.at("--spec")
                                                      : R"({"arch":"mlp","hidden":[256,128]})");
  auto epochs = int_option(*args, "--epochs", 5, 1);
  auto batch = int_option(*args, "--batch", 128, 1);
  auto train_size = int_option(*args, "--train-size", 0, 1);
  auto test_size = int_option(*args, "--test-size", 0, 1);
  auto seed = int_option(*args, "--seed", 1, 0);
  auto lr = float_option(*args, "--lr", 0.05);
  for (const Status* s : {&spec.status(), &epochs.status(), &batch.status(), &train_size.status(),
                          &test_size.status(), &seed.status(), &lr.status()})
    if (!s->ok()) return fail(*s, kExitUsage);
  const std::string out = args->options.count("--out") ? args->options.at("--out") : "model.onnx";

  auto model = arch::build_model(*spec, static_cast<uint64_t>(*seed), "--spec");
  if (!model.ok()) return fail(model.status(), kExitUsage);
  auto train = load_split(data::Split::kTrain, *train_size);
  if (!train.ok()) return fail(train.status(), kExitFailed);
  auto test = load_split(data::Split::kTest, *test_size);
  if (!test.ok()) return fail(test.status(), kExitFailed);

  engine::TrainOptions options;
  options.epochs = static_cast<int>(*epochs);
  options.batch = *batch;
  options.seed = static_cast<uint64_t>(*seed);
  options.optimizer.lr = static_cast<float>(*lr);
  if (args->options.count("--optimizer")) options.optimizer.type = args->options.at("--optimizer");
  if (options.optimizer.type != "sgd" && options.optimizer.type != "adamw")
    return fail(make_error(ErrorCode::kInvalidArgument, "--optimizer: expected sgd or adamw, got '",
                           options.optimizer.type, "'"),
                kExitUsage);
  options.schedule.type = "cosine";
  options.on_progress = print_progress;
  std::fprintf(stderr, "training %s on %lld images (%d threads)\n", spec->value("arch", "?").c_str(),
               static_cast<long long>(train->size()), omp_get_max_threads());
  auto summary = engine::train_classifier(*model, *train, options);
  if (!summary.ok()) return fail(summary.status(), kExitFailed);
  auto eval = engine::evaluate_classifier(*model, *test);
  if (!eval.ok()) return fail(eval.status(), kExitFailed);
  Status saved = save_onnx(*model, out);
  if (!saved.ok()) return fail(saved, kExitFailed);
  std::printf("test accuracy: %.4f (%lld images), loss %.4f, trained in %.1fs; saved %s\n", eval->accuracy,
              static_cast<long long>(eval->count), eval->loss, summary->seconds, out.c_str());
  return 0;
}

int cmd_eval(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--test-size", "--batch", "--threads"}, {"--json", "--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has_flag("--help")) return std::fputs(kEvalUsage, stdout), 0;
  if (args->positional.size() != 1)
    return fail(make_error(ErrorCode::kInvalidArgument, "eval takes exactly one MODEL.onnx"), kExitUsage);
  apply_threads(*args);
  auto test_size = int_option(*args, "--test-size", 0, 1);
  auto batch = int_option(*args, "--batch", 256, 1);
  if (!test_size.ok()) return fail(test_size.status(), kExitUsage);
  if (!batch.ok()) return fail(batch.status(), kExitUsage);
  auto model = load_onnx(args->positional[0]);
  if (!model.ok()) return fail(model.status(), kExitFailed);
  auto test = load_split(data::Split::kTest, *test_size);
  if (!test.ok()) return fail(test.status(), kExitFailed);
  auto eval = engine::evaluate_classifier(*model, *test, *batch);
  if (!eval.ok()) return fail(eval.status().with_context(args->positional[0]), kExitFailed);
  auto cost = engine::count_compute(*model);
  if (!cost.ok()) return fail(cost.status(), kExitFailed);
  nlohmann::json j = {{"model", args->positional[0]},   {"images", eval->count},
                      {"accuracy", eval->accuracy},     {"loss", eval->loss},
                      {"parameters", model->parameter_count()}, {"nonzero_parameters", model->nonzero_parameters()},
                      {"macs", cost->macs},             {"flops", cost->flops}};
  if (args->has_flag("--json")) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (const auto& [k, v] : j.items()) std::printf("%-20s %s\n", k.c_str(), v.dump().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : 0;
  }
  if (!std::strcmp(argv[1], "--version")) return std::printf("retort %s\n", RETORT_VERSION), 0;
  if (!std::strcmp(argv[1], "train")) return cmd_train(argc, argv);
  if (!std::strcmp(argv[1], "eval")) return cmd_eval(argc, argv);
  std::fprintf(stderr, "retort: unknown command '%s'\n\n%s", argv[1], kUsage);
  return kExitUsage;
}
