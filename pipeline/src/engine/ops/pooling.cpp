// STUB: to be replaced by the real kernel(s).
#include "ops.h"

namespace retort::engine {

Expected<std::unique_ptr<Kernel>> create_max_pool_kernel(const KernelContext& ctx) {
  return make_error(ErrorCode::kUnsupported, ctx.node.describe(), ": not implemented yet");
}

Expected<std::unique_ptr<Kernel>> create_average_pool_kernel(const KernelContext& ctx) {
  return make_error(ErrorCode::kUnsupported, ctx.node.describe(), ": not implemented yet");
}

Expected<std::unique_ptr<Kernel>> create_global_average_pool_kernel(const KernelContext& ctx) {
  return make_error(ErrorCode::kUnsupported, ctx.node.describe(), ": not implemented yet");
}

}  // namespace retort::engine
