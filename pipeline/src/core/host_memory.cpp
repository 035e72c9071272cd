#include "retort/core/host_memory.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace retort {
namespace {

constexpr size_t kAlignment = 64;  // AVX-512 loads and oneDNN's preferred alignment

size_t round_up(size_t n, size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

std::shared_ptr<std::byte[]> allocate_from_heap(size_t bytes) {
  // One spare cache line past the end: some kernels read a full vector at the tail.
  const size_t rounded = round_up(bytes, kAlignment) + kAlignment;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded));
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return std::shared_ptr<std::byte[]>(p, [](std::byte* q) { std::free(q); });
}

#ifdef __linux__
// Anonymous pages come zeroed from the kernel, so no memset: the first touch faults them in,
// as huge pages where the kernel allows it (THP "always" or "madvise"; with "never" the advice
// is ignored and this is an ordinary mapping).
std::shared_ptr<std::byte[]> map_huge(size_t bytes) {
  static const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t length = round_up(bytes + kAlignment, page);
  // Map one huge page more than needed, then unmap the unaligned head and the rest of the tail.
  void* mapped = mmap(nullptr, length + kHugePageBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) throw std::bad_alloc();
  auto* base = static_cast<std::byte*>(mapped);
  const auto address = reinterpret_cast<uintptr_t>(mapped);
  const size_t head = round_up(address, kHugePageBytes) - address;
  if (head != 0) munmap(base, head);
  std::byte* p = base + head;
  const size_t tail = kHugePageBytes - head;
  if (tail != 0) munmap(p + length, tail);
  madvise(p, length, MADV_HUGEPAGE);  // advice only: a kernel without THP says no, harmlessly
  return std::shared_ptr<std::byte[]>(p, [length](std::byte* q) { munmap(q, length); });
}
#endif

}  // namespace

std::shared_ptr<std::byte[]> allocate_zeroed(size_t bytes) {
#ifdef __linux__
  if (bytes >= kHugePageBytes) return map_huge(bytes);
#endif
  return allocate_from_heap(bytes);
}

}  // namespace retort
