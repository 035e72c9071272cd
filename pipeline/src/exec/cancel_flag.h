// The flag behind request_cancel(), for the host's cancelled() entry.
#pragma once

#include <atomic>

namespace retort::exec {

const std::atomic<bool>* cancel_flag();

}  // namespace retort::exec
