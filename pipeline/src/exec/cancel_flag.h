// The flag behind request_cancel(), for the host's cancelled() entry.
#pragma once

#include <atomic>
#include <string>

namespace retort::exec {

const std::atomic<bool>* cancel_flag();

// The scratch folder a second stop signal removes before it ends the process (one at a time;
// "" for none). The first signal only sets the flag: the owner removes the folder itself.
void set_scratch_folder(const std::string& path);

}  // namespace retort::exec
