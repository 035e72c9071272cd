// Writing a file so that a reader sees either its old or its new complete contents, never a
// part, also when several threads or processes write the same path at once.
#pragma once

#include <string>
#include <string_view>

#include "retort/core/status.h"

namespace retort {

// The marker between a file's name and the unique suffix of its temporaries.
inline constexpr std::string_view kTempFileMarker = ".tmp-";

// Writes `bytes` to a new temporary file next to `path`, named
// "<path>.tmp-<pid>-<n>" (n unique within the process, the file created exclusively, so no two
// writers ever share one), flushes it (and fsyncs it when `sync`), then renames it over `path`.
// Concurrent writers of one path each rename a complete file of their own: the last rename
// wins. On failure the temporary is removed and the message names the file and the cause.
Status write_file_atomically(const std::string& path, std::string_view bytes, bool sync = true);

}  // namespace retort
