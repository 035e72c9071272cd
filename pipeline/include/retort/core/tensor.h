// A dense, row-major, 64-byte aligned tensor with shared storage (copies share data; use
// clone() for a deep copy). Used for initializers, data batches and engine buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace retort {

enum class DType : int { kFloat32, kInt64, kInt32, kInt8, kUInt8, kBool };

const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::kInt8;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::kUInt8;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::kBool;
}

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& shape);
// Truncates toward zero like static_cast, but defined for every float: saturates at the int64
// range, NaN gives 0.
int64_t float_to_int64(float value);
// Element count of `shape`; nullopt when a dim is negative or the count overflows int64 (a
// shape read from a file or computed from one may do either).
std::optional<int64_t> checked_numel(const Shape& shape);
std::string shape_to_string(const Shape& shape);  // "[128, 1, 28, 28]"

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor. Throws std::bad_array_new_length (a std::bad_alloc) when a dim is
  // negative or the byte count overflows, std::bad_alloc when the memory is not there. Sizes
  // that come from outside go through allocate_tensor (retort/core/checked_alloc.h) instead.
  Tensor(DType dtype, Shape shape);

  template <typename T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values) {
    Tensor t(dtype_of<T>(), std::move(shape));
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }
  static Tensor scalar(float value) { return from_vector<float>({}, {value}); }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_[i]; }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool empty() const { return storage_ == nullptr; }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <typename T>
  T* data() {
    return static_cast<T*>(raw());
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(raw());
  }
  template <typename T>
  std::span<T> span() {
    return {data<T>(), static_cast<size_t>(numel_)};
  }
  template <typename T>
  std::span<const T> span() const {
    return {data<T>(), static_cast<size_t>(numel_)};
  }

  Tensor clone() const;
  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Values as int64 whatever the dtype (for shape-like tensors); floats as float_to_int64.
  std::vector<int64_t> to_int64_vector() const;

 private:
  DType dtype_ = DType::kFloat32;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<std::byte[]> storage_;
};

}  // namespace retort
