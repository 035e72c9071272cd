#include "retort/graph/model_size.h"

#include <zlib.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace retort {

Expected<ModelFileSize> model_file_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read model file '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  uLongf packed_size = compressBound(static_cast<uLong>(bytes.size()));
  std::vector<Bytef> packed(packed_size);
  if (compress2(packed.data(), &packed_size, reinterpret_cast<const Bytef*>(bytes.data()),
                static_cast<uLong>(bytes.size()), Z_BEST_COMPRESSION) != Z_OK)
    return make_error(ErrorCode::kInternal, "compressing '", path, "' failed");
  return ModelFileSize{static_cast<int64_t>(bytes.size()), static_cast<int64_t>(packed_size)};
}

}  // namespace retort
