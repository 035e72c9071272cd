// STUB: to be replaced by the real kernel(s).
#include "ops.h"

namespace retort::engine {

Expected<std::unique_ptr<Kernel>> create_mat_mul_kernel(const KernelContext& ctx) {
  return make_error(ErrorCode::kUnsupported, ctx.node.describe(), ": not implemented yet");
}

}  // namespace retort::engine
