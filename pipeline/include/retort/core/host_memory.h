// Where tensor storage comes from. Large buffers (weights, gradients, optimizer state, data
// sets) are mapped on their own, 2 MiB aligned and advised as transparent huge pages, so that
// a training step's streaming passes over them (the optimizer update above all) do not pay a
// TLB miss every 4 KiB. glibc's malloc gives that only when GLIBC_TUNABLES asks for it
// (glibc.malloc.hugetlb=1); retort should not depend on the caller's environment for it.
#pragma once

#include <cstddef>
#include <memory>

namespace retort {

// Buffers of at least this many bytes are mapped on their own and advised as huge pages.
inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// `bytes` zeroed bytes, 64-byte aligned (2 MiB aligned from kHugePageBytes on, on Linux).
// Throws std::bad_alloc when the memory is not there.
std::shared_ptr<std::byte[]> allocate_zeroed(size_t bytes);

}  // namespace retort
