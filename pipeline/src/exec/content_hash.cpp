#include "retort/exec/content_hash.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace retort::exec {
namespace {

// Odd constants with well-spread bits (from the fractional parts of sqrt(2), sqrt(3), ...);
// any odd multiplier keeps the per-word step a bijection.
constexpr uint64_t kMul0 = 0x6a09e667f3bcc909ull;
constexpr uint64_t kMul1 = 0xbb67ae8584caa73bull;
constexpr uint64_t kMul2 = 0x3c6ef372fe94f82bull;
constexpr uint64_t kSeeds[4] = {0x510e527fade682d1ull, 0x9b05688c2b3e6c1full, 0x1f83d9abfb41bd6bull,
                                0x5be0cd19137e2179ull};

uint64_t rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // little-endian on any host
  return v;
}

// Absorbs one word into a lane: xor, multiply (spreads low bits up), rotate (brings high bits
// back down for the next multiply).
uint64_t absorb(uint64_t lane, uint64_t word) {
  return rotl((lane ^ word) * kMul0, 29) * kMul1;
}

// Final avalanche so that every input bit affects every output bit.
uint64_t avalanche(uint64_t h) {
  h ^= h >> 31;
  h *= kMul1;
  h ^= h >> 29;
  h *= kMul2;
  h ^= h >> 32;
  return h;
}

}  // namespace

ContentHasher::ContentHasher() {
  for (int i = 0; i < 4; ++i) lanes_[i] = kSeeds[i];
}

void ContentHasher::consume_stripe(const unsigned char* stripe) {
  for (int i = 0; i < 4; ++i) lanes_[i] = absorb(lanes_[i], load_le64(stripe + 8 * i));
}

void ContentHasher::update(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  total_ += size;
  if (pending_size_ > 0) {
    const size_t take = std::min(size, kStripe - pending_size_);
    std::memcpy(pending_ + pending_size_, p, take);
    pending_size_ += take;
    p += take;
    size -= take;
    if (pending_size_ < kStripe) return;
    consume_stripe(pending_);
    pending_size_ = 0;
  }
  for (; size >= kStripe; p += kStripe, size -= kStripe) consume_stripe(p);
  std::memcpy(pending_, p, size);
  pending_size_ = size;
}

uint64_t ContentHasher::digest() const {
  uint64_t lanes[4] = {lanes_[0], lanes_[1], lanes_[2], lanes_[3]};
  // The tail (under one stripe), zero-padded; the total length below tells "ab" from "ab\0".
  unsigned char tail[kStripe] = {};
  std::memcpy(tail, pending_, pending_size_);
  for (size_t i = 0; i * 8 < pending_size_; ++i)
    lanes[i] = absorb(lanes[i], load_le64(tail + 8 * i));
  uint64_t h = total_ * kMul2;
  for (int i = 0; i < 4; ++i)
    h = rotl(h ^ avalanche(lanes[i] + static_cast<uint64_t>(i)), 23) * kMul0;
  return avalanche(h ^ total_);
}

uint64_t hash_bytes(std::string_view bytes) {
  ContentHasher h;
  h.update(bytes);
  return h.digest();
}

Expected<uint64_t> hash_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    return make_error(ErrorCode::kNotFound, "cannot open '", path,
                      "' to hash it: ", std::strerror(errno));
  }
  ContentHasher h;
  std::vector<unsigned char> buffer(1 << 20);
  while (true) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    h.update(buffer.data(), n);
    if (n < buffer.size()) break;
  }
  if (std::ferror(file.get())) {
    return make_error(ErrorCode::kIo, "error while reading '", path, "' to hash it");
  }
  return h.digest();
}

std::string hash_hex(uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace retort::exec
