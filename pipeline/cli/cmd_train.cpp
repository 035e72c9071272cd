// retort train: one model trained outside a recipe (quick experiments).
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "data_options.h"
#include "progress_display.h"
#include "retort/arch/build_model.h"
#include "retort/engine/trainer.h"
#include "retort/graph/onnx_io.h"

namespace retort::cli {
namespace {

const char* kUsage =
    "usage: retort train [--spec JSON|FILE] [--epochs N] [--batch N] [--lr F] [--optimizer "
    "sgd|adamw]\n"
    "                    [--data JSON|FILE] [--train-size N] [--test-size N] [--seed N] [--threads "
    "N]\n"
    "                    [--out FILE.onnx]\n"
    "\n"
    "Trains the architecture of --spec (default {\"arch\":\"mlp\",\"hidden\":[256,128]}) on the\n"
    "training data (default Fashion-MNIST; --train-size N takes the first N images), prints the\n"
    "test accuracy and saves the model to --out (default model.onnx).\n";

}  // namespace

int cmd_train(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2,
                         {"--spec", "--epochs", "--batch", "--lr", "--optimizer", "--data",
                          "--train-size", "--test-size", "--seed", "--threads", "--out"},
                         {"--help"});
  if (!args.ok()) return fail(args.status(), kExitUsage);
  if (args->has("--help")) return std::fputs(kUsage, stdout), kExitOk;
  if (!args->positional.empty())
    return fail(
        make_error(ErrorCode::kInvalidArgument, "unexpected argument '", args->positional[0], "'"),
        kExitUsage);
  if (Status s = apply_threads(*args); !s.ok()) return fail(s, kExitUsage);
  auto spec = json_argument(args->get("--spec", R"({"arch":"mlp","hidden":[256,128]})"), "--spec");
  auto epochs = args->get_int("--epochs", 5, 1);
  auto batch = args->get_int("--batch", 128, 1);
  auto seed = args->get_int("--seed", 1, 0);
  for (const Status* s : {&spec.status(), &epochs.status(), &batch.status(), &seed.status()})
    if (!s->ok()) return fail(*s, kExitUsage);
  engine::TrainOptions options;
  options.epochs = static_cast<int>(*epochs);
  options.batch = *batch;
  options.seed = static_cast<uint64_t>(*seed);
  options.schedule.type = "cosine";
  auto optimizer =
      engine::optimizer_config_from_json({{"type", args->get("--optimizer", "sgd")},
                                          {"lr", std::atof(args->get("--lr", "0.05").c_str())}},
                                         "--optimizer/--lr");
  if (!optimizer.ok()) return fail(optimizer.status(), kExitUsage);
  options.optimizer = *optimizer;

  // The data section is the user's input, checked as a recipe's before any work.
  auto section = resolve_data_option(*args);
  if (!section.ok()) return fail(section.status(), kExitUsage);
  auto model = arch::build_model(*spec, options.seed, "--spec");
  if (!model.ok()) return fail(model.status(), kExitUsage);
  auto data = data::load_data_section(*section);
  if (!data.ok()) return fail(data.status(), kExitFailed);
  ProgressDisplay display;
  options.on_progress = [&](const engine::TrainProgress& p) {
    display.update("train", {{"epoch", p.epoch + 1},
                             {"epochs", p.epochs},
                             {"step", p.step},
                             {"steps", p.steps_per_epoch},
                             {"loss", p.loss},
                             {"accuracy", p.accuracy},
                             {"seconds", p.seconds}});
    return true;
  };
  std::fprintf(stderr, "training %s on %lld images\n", spec->value("arch", "?").c_str(),
               static_cast<long long>((*data)->train.size()));
  auto summary = engine::train_classifier(*model, (*data)->train, options);
  display.finish("train");
  if (!summary.ok()) return fail(summary.status(), kExitFailed);
  auto eval = engine::evaluate_classifier(*model, (*data)->test);
  if (!eval.ok()) return fail(eval.status(), kExitFailed);
  const std::string out = args->get("--out", "model.onnx");
  set_class_names(*model, (*data)->train.class_names);  // into the ONNX metadata
  if (Status s = save_onnx(*model, out); !s.ok()) return fail(s, kExitFailed);
  std::printf("test accuracy: %.4f (%lld images), loss %.4f, trained in %.1fs; saved %s\n",
              eval->accuracy, static_cast<long long>(eval->count), eval->loss, summary->seconds,
              out.c_str());
  return kExitOk;
}

}  // namespace retort::cli
