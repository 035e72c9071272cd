// Training-time augmentation of one image: random crop with zero padding, then a random
// horizontal flip. Draws come from a caller-given seed so results do not depend on which
// thread prepares the sample.
#pragma once

#include <cstdint>

namespace retort::data {

struct AugmentOptions {
  // Pad each side with this many zero pixels, then crop back to H x W at a random offset
  // (a shift of -p..p pixels in each direction). 0 disables cropping.
  int64_t crop_padding = 0;
  // Mirror left-right with probability 1/2.
  bool horizontal_flip = false;

  bool enabled() const { return crop_padding > 0 || horizontal_flip; }
};

// One draw: out(c, y, x) = in(c, y + shift_y, x' + shift_x) with x' = flip ? W - 1 - x : x,
// and 0 where that falls outside the image.
struct Transform {
  int64_t shift_y = 0;
  int64_t shift_x = 0;
  bool flip = false;
};

// Draws a transform from `seed` (the same seed always gives the same transform).
Transform draw_transform(const AugmentOptions& options, uint64_t seed);

// Writes the transformed [C, H, W] image `in` to `out` (they must not overlap).
void apply_transform(const Transform& transform, const float* in, float* out, int64_t channels,
                     int64_t height, int64_t width);

}  // namespace retort::data
