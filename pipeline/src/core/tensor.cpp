#include "retort/core/tensor.h"

#include <cassert>
#include <cstring>
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

std::string shape_to_string(const Shape& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

Tensor::Tensor(DType dtype, Shape shape)
    : dtype_(dtype), shape_(std::move(shape)), numel_(shape_numel(shape_)) {
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
        out[i] = static_cast<int64_t>(data<float>()[i]);
        break;
    }
  }
  return out;
}

}  // namespace retort
