// Wording helpers for error messages: did-you-mean suggestions and lists.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace retort {

// The candidate closest to `word` by edit distance (case-insensitive) when it is close enough
// to be a plausible typo, else nullopt.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);
// " (did you mean 'hidden'?)" or "" — for appending to an error message.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);
// "a, b, c".
std::string join(const std::vector<std::string>& items, std::string_view separator = ", ");

}  // namespace retort
