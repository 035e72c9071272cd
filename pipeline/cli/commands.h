// One function per `retort` command; each parses its own options and returns an exit code.
#pragma once

namespace retort::cli {

int cmd_run(int argc, char** argv);
int cmd_validate(int argc, char** argv);
int cmd_graph(int argc, char** argv);
int cmd_plugins(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_plot(int argc, char** argv);
int cmd_bench(int argc, char** argv);

}  // namespace retort::cli
