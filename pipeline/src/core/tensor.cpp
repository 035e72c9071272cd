#include "retort/core/tensor.h"

#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>

#include "retort/core/host_memory.h"

namespace retort {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kInt64:
      return "int64";
    case DType::kInt32:
      return "int32";
    case DType::kInt8:
      return "int8";
    case DType::kUInt8:
      return "uint8";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return 4;
    case DType::kInt64:
      return 8;
    case DType::kInt32:
      return 4;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t float_to_int64(float value) {
  // 2^63 is exactly representable as a float; INT64_MAX is not (it rounds up to 2^63).
  constexpr float kTwoTo63 = 9223372036854775808.0f;
  if (std::isnan(value)) return 0;
  if (value >= kTwoTo63) return std::numeric_limits<int64_t>::max();
  if (value < -kTwoTo63) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(value);
}

std::optional<int64_t> checked_numel(const Shape& shape) {
  int64_t n = 1;
  bool zero = false;
  bool overflow = false;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    if (d == 0)
      zero = true;  // the count is 0 whatever the other dims are, overflowing or not
    else if (!overflow)
      overflow = __builtin_mul_overflow(n, d, &n);
  }
  if (zero) return 0;
  if (overflow) return std::nullopt;
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  const std::optional<int64_t> numel = checked_numel(shape_);
  if (!numel || static_cast<uint64_t>(*numel) > std::numeric_limits<size_t>::max() / 8)
    throw std::bad_array_new_length();
  numel_ = *numel;
  storage_ = allocate_zeroed(nbytes());
}

Tensor Tensor::clone() const {
  if (empty()) return {};
  Tensor copy(dtype_, shape_);
  std::memcpy(copy.raw(), raw(), nbytes());
  return copy;
}

Tensor Tensor::reshaped(Shape shape) const {
  assert(shape_numel(shape) == numel_);
  Tensor view = *this;
  view.shape_ = std::move(shape);
  return view;
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) {
    switch (dtype_) {
      case DType::kInt64:
        out[i] = data<int64_t>()[i];
        break;
      case DType::kInt32:
        out[i] = data<int32_t>()[i];
        break;
      case DType::kInt8:
        out[i] = data<int8_t>()[i];
        break;
      case DType::kUInt8:
        out[i] = data<uint8_t>()[i];
        break;
      case DType::kBool:
        out[i] = data<bool>()[i] ? 1 : 0;
        break;
      case DType::kFloat32:
        out[i] = float_to_int64(data<float>()[i]);
        break;
    }
  }
  return out;
}

}  // namespace retort
