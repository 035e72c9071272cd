// Buffers whose size comes from outside: a file's dims, a recipe's numbers, or shapes computed
// from them. A hostile or corrupt file can claim any size, so these are checked against the
// machine's memory before anything is allocated, and an allocation that fails anyway is an
// error value naming the buffer, never an uncaught std::bad_alloc.
#pragma once

#include <cstdint>
#include <string>

#include "retort/core/status.h"
#include "retort/core/tensor.h"

namespace retort {

// The most bytes one such buffer may take: the machine's physical memory (no buffer larger
// than that can be worked with), or 2^40 when the system does not say.
uint64_t buffer_limit_bytes();

// "4.0 GiB", "812 bytes": a byte count for messages.
std::string format_bytes(uint64_t bytes);

// Whether a buffer of that dtype and shape may be allocated: an error naming `what` when a dim
// is negative, the size overflows or exceeds buffer_limit_bytes(). For code that derives other
// allocations from a shape before allocating the buffer itself.
Status check_buffer_size(DType dtype, const Shape& shape, const std::string& what);

// A zero-filled tensor; `what` names it in errors ("initializer 'fc1.weight'", "'x.idx':
// images"). Fails with kInvalidArgument when a dim is negative, the size overflows or exceeds
// buffer_limit_bytes(), or the memory is not there.
Expected<Tensor> allocate_tensor(DType dtype, const Shape& shape, const std::string& what);

}  // namespace retort
