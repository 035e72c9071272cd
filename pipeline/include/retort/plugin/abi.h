/* The whole contract between retort and a stage plugin, in C so that any compiler can build a
 * plugin. A plugin is a shared library exporting one function, RETORT_PLUGIN_ENTRY_SYMBOL,
 * that returns a pointer to a static retort_plugin_info. The host checks abi_version for an
 * exact match and struct_size before reading anything else, never unloads a plugin, and calls
 * a stage's run() with a host table of services. No C++ exception may cross this boundary:
 * run() reports failure by returning non-zero with a message in `error`.
 *
 * Artifacts are files: a stage reads its inputs from the paths the host gives (an ONNX model,
 * a metrics JSON) and writes its outputs into output_dir as "<port>.onnx" (model ports) or
 * "<port>.json" (metrics ports); a port that takes several values uses "<port>.<i>.onnx".
 * The host writes output_dir under a temporary name and renames it when run() succeeds. A
 * file a stage writes elsewhere is reported with record_external_file() so that the cache
 * notices when it is deleted or changed.
 *
 * Write plugins in C++ with retort/plugin/sdk.h, which fills these tables from a class. */
#ifndef RETORT_PLUGIN_ABI_H_
#define RETORT_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change to the structs below; the host accepts exactly its own version. A plain
 * integer, because RETORT_BUILD_FINGERPRINT spells it ("abi-3").
 * 2: retort_host.record_external_file.
 * 3: retort_stage_desc.check and retort_host.checking (checks before anything runs). */
#define RETORT_PLUGIN_ABI_VERSION 3
#define RETORT_PLUGIN_ENTRY_SYMBOL "retort_plugin_entry"

typedef enum retort_port_kind {
  RETORT_PORT_MODEL = 1,   /* an ONNX model file */
  RETORT_PORT_METRICS = 2, /* a JSON object of metrics */
} retort_port_kind;

typedef struct retort_port_desc {
  const char* name; /* "teacher", "student", "model", "metrics" */
  retort_port_kind kind;
  int32_t multiple;    /* input: accepts a list (fan-in); output: writes several */
  int32_t optional;    /* input may be left out */
  const char* summary; /* one line for `retort plugins` */
} retort_port_desc;

/* One run of one stage; owned by the host. */
typedef struct retort_stage_run retort_stage_run;

/* Services the host offers a running stage. Returned strings are owned by the host and stay
 * valid until run() returns. */
typedef struct retort_host {
  uint32_t struct_size;
  const char* (*stage_id)(retort_stage_run* run);
  /* The stage's params, validated against its schema, defaults filled in (JSON object). */
  const char* (*params_json)(retort_stage_run* run);
  /* The recipe's "data" section, resolved (JSON object). */
  const char* (*data_json)(retort_stage_run* run);
  /* The recipe's "models" entry a stage input names instead of a stage output, or NULL. */
  const char* (*model_spec_json)(retort_stage_run* run, const char* port, size_t index);
  uint64_t (*seed)(retort_stage_run* run);
  int32_t (*threads)(retort_stage_run* run);
  size_t (*input_count)(retort_stage_run* run, const char* port);
  /* Path of the index-th artifact bound to an input port, or NULL when that input is a
   * model spec (see model_spec_json) or absent. */
  const char* (*input_path)(retort_stage_run* run, const char* port, size_t index);
  const char* (*output_dir)(retort_stage_run* run);
  /* Live progress as a JSON object: {"epoch","epochs","step","steps","loss","accuracy"}. */
  void (*progress)(retort_stage_run* run, const char* json);
  void (*log)(retort_stage_run* run, const char* message);
  /* Non-zero once the user asked to stop (SIGINT/SIGTERM): return early, output is dropped. */
  int32_t (*cancelled)(retort_stage_run* run);
  /* The stage wrote `path`, a file outside output_dir (an export to a user's path); call it
   * once the file is complete (written to a temporary name and renamed). When the stage
   * succeeds, the host records the path with the file's content hash in the stage's manifest,
   * and a later run re-runs the stage instead of reusing its cached result when that file is
   * missing or its bytes changed. Returns 0, or non-zero when `path` is NULL or empty. */
  int32_t (*record_external_file)(retort_stage_run* run, const char* path);
  /* Non-zero while the host calls the stage's check() rather than its run(). */
  int32_t (*checking)(retort_stage_run* run);
} retort_host;

/* Returns 0 on success. On failure returns non-zero and writes a NUL-terminated message of at
 * most error_size bytes (what went wrong and how to fix it) into `error`. */
typedef int32_t (*retort_stage_run_fn)(const retort_host* host, retort_stage_run* run, char* error,
                                       size_t error_size);

typedef struct retort_stage_desc {
  const char* type;          /* unique across loaded plugins: "train", "distill" */
  const char* summary;       /* one line */
  const char* params_schema; /* JSON Schema (the subset retort validates) of "params" */
  const retort_port_desc* inputs;
  size_t num_inputs;
  const retort_port_desc* outputs;
  size_t num_outputs;
  int32_t compute_heavy; /* counts against --jobs (training, evaluation) */
  retort_stage_run_fn run;
  /* Optional (NULL: nothing to check). Called for every stage, in graph order, before any
   * stage runs (`retort validate`, and `retort run` before its first stage), so that a mistake
   * in a late stage is reported before hours of training in earlier ones. It gets the same
   * host table as run() with checking() non-zero, and must be cheap: no training, no data
   * beyond what it needs to check. An input bound to a recipe model is available as usual; an
   * input produced by an upstream stage is available when that stage's check wrote it: a check
   * may save a model to an output port with the graph (names, shapes) that its run will
   * produce, weights untrained (a train stage passes its input on). Otherwise input_path and
   * model_spec_json both return NULL and the check skips what depends on it. Returns like run();
   * the message is reported as a recipe error naming the stage. */
  retort_stage_run_fn check;
} retort_stage_desc;

/* abi_version, struct_size and name stay first in every ABI version, so that a host can say
 * which plugin it rejects and why. */
typedef struct retort_plugin_info {
  uint32_t abi_version; /* RETORT_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /* sizeof(retort_plugin_info) in the plugin's build */
  const char* name;
  const char* version;
  const char* fingerprint; /* compiler and retort version, see RETORT_BUILD_FINGERPRINT */
  const retort_stage_desc* stages;
  size_t num_stages;
} retort_plugin_info;

typedef const retort_plugin_info* (*retort_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* RETORT_PLUGIN_ABI_H_ */
