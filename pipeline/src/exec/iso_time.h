// Wall-clock timestamps for manifests: "2024-05-01T12:34:56.789Z".
#pragma once

#include <chrono>
#include <string>

namespace retort::exec {

std::string iso_time_utc(std::chrono::system_clock::time_point t);

}  // namespace retort::exec
