#include "retort/core/checked_alloc.h"

#include <unistd.h>

#include <cstdio>
#include <limits>
#include <new>
#include <optional>

namespace retort {

uint64_t buffer_limit_bytes() {
  static const uint64_t limit = [] {
    constexpr uint64_t kFallback = uint64_t{1} << 40;
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0) return kFallback;
    return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
  }();
  return limit;
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, kUnits[unit]);
  return text;
}

Status check_buffer_size(DType dtype, const Shape& shape, const std::string& what) {
  for (int64_t d : shape)
    if (d < 0)
      return make_error(ErrorCode::kInvalidArgument, what, ": shape ", shape_to_string(shape),
                        " has a negative dimension");
  const std::optional<int64_t> numel = checked_numel(shape);
  const uint64_t limit = buffer_limit_bytes();
  const uint64_t element = dtype_size(dtype);
  if (!numel || static_cast<uint64_t>(*numel) > limit / element)
    return make_error(ErrorCode::kInvalidArgument, what, ": ", dtype_name(dtype), " ",
                      shape_to_string(shape), " needs ",
                      numel ? format_bytes(static_cast<uint64_t>(*numel) * element)
                            : std::string("more bytes than 64 bits can count"),
                      ", more than the ", format_bytes(limit), " of memory this machine has");
  return Status::Ok();
}

Expected<Tensor> allocate_tensor(DType dtype, const Shape& shape, const std::string& what) {
  RETORT_RETURN_IF_ERROR(check_buffer_size(dtype, shape, what));
  const auto bytes = static_cast<uint64_t>(shape_numel(shape)) * dtype_size(dtype);
  try {
    return Tensor(dtype, shape);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kInvalidArgument, what, ": cannot allocate ", format_bytes(bytes),
                      " for ", dtype_name(dtype), " ", shape_to_string(shape), ": out of memory");
  }
}

}  // namespace retort
