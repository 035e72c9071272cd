// Size of a model file on disk, raw and gzip-compressed (what a download would cost).
#pragma once

#include <cstdint>
#include <string>

#include "retort/core/status.h"

namespace retort {

struct ModelFileSize {
  int64_t bytes = 0;
  int64_t gzip_bytes = 0;
};

Expected<ModelFileSize> model_file_size(const std::string& path);

}  // namespace retort
