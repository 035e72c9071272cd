// A fast 64-bit content hash for cache keys: artifacts are compared by what they hold, not by
// their paths or times. Not cryptographic: it guards against stale files, not against attacks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "retort/core/status.h"

namespace retort::exec {

// Streaming: feeding the bytes in any split gives the same digest as feeding them at once.
class ContentHasher {
 public:
  ContentHasher();
  void update(const void* data, size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  uint64_t digest() const;  // does not change the state: more bytes may follow

 private:
  void consume_stripe(const unsigned char* stripe);

  static constexpr size_t kStripe = 32;  // four 8-byte lanes
  uint64_t lanes_[4];
  unsigned char pending_[kStripe];
  size_t pending_size_ = 0;
  uint64_t total_ = 0;
};

uint64_t hash_bytes(std::string_view bytes);
// Reads the file in chunks; errors name the file.
Expected<uint64_t> hash_file(const std::string& path);
// 16 lowercase hex digits, as stored in manifests.
std::string hash_hex(uint64_t hash);

}  // namespace retort::exec
