#include "retort/data/augment.h"

#include <algorithm>
#include <cstring>

#include "retort/data/seeded_random.h"

namespace retort::data {

Transform draw_transform(const AugmentOptions& options, uint64_t seed) {
  SeededRandom random(seed);
  Transform t;
  const int64_t p = std::max<int64_t>(options.crop_padding, 0);
  // Always three draws, so enabling one option does not change the other's values.
  const auto dy = static_cast<int64_t>(random.below(static_cast<uint64_t>(2 * p + 1)));
  const auto dx = static_cast<int64_t>(random.below(static_cast<uint64_t>(2 * p + 1)));
  const bool flip = random.coin();
  t.shift_y = dy - p;
  t.shift_x = dx - p;
  t.flip = options.horizontal_flip && flip;
  return t;
}

void apply_transform(const Transform& transform, const float* in, float* out, int64_t channels,
                     int64_t height, int64_t width) {
  // Output columns x whose source column lies inside the image: [x_begin, x_end).
  const int64_t x_begin = std::clamp<int64_t>(-transform.shift_x, 0, width);
  const int64_t x_end = std::clamp<int64_t>(width - transform.shift_x, 0, width);
  for (int64_t c = 0; c < channels; ++c) {
    const float* in_plane = in + c * height * width;
    float* out_plane = out + c * height * width;
    for (int64_t y = 0; y < height; ++y) {
      float* row = out_plane + y * width;
      const int64_t sy = y + transform.shift_y;
      if (sy < 0 || sy >= height || x_begin >= x_end) {
        std::fill_n(row, width, 0.0f);
        continue;
      }
      // Crop: cropped(x) = src(x + shift_x) for x in [x_begin, x_end), zero elsewhere.
      const float* src_row = in_plane + sy * width;
      const int64_t dx = transform.shift_x;
      if (!transform.flip) {
        std::fill(row, row + x_begin, 0.0f);
        std::memcpy(row + x_begin, src_row + x_begin + dx,
                    static_cast<size_t>(x_end - x_begin) * sizeof(float));
        std::fill(row + x_end, row + width, 0.0f);
      } else {
        // Flip: out(x) = cropped(W - 1 - x), non-zero for x in [W - x_end, W - x_begin).
        const int64_t f_begin = width - x_end;
        const int64_t f_end = width - x_begin;
        std::fill(row, row + f_begin, 0.0f);
        const int64_t mirror = width - 1 + dx;
        for (int64_t x = f_begin; x < f_end; ++x) row[x] = src_row[mirror - x];
        std::fill(row + f_end, row + width, 0.0f);
      }
    }
  }
}

}  // namespace retort::data
