#include "retort/core/text.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace retort {
namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates) {
  const std::string lower = lowercase(word);
  std::optional<std::string> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const std::string& candidate : candidates) {
    const size_t d = edit_distance(lower, lowercase(candidate));
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  // Plausible typos: a couple of edits, more for long words.
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  if (best && best_distance <= limit && best_distance < std::max(word.size(), best->size()))
    return best;
  // Else a longer or shorter spelling of a name ("batchsize" for "batch"); the longest wins.
  constexpr size_t kMinPrefix = 4;
  std::optional<std::string> prefix_match;
  for (const std::string& candidate : candidates) {
    const std::string other = lowercase(candidate);
    const size_t common = std::min(other.size(), lower.size());
    if (common < kMinPrefix || other.compare(0, common, lower, 0, common) != 0) continue;
    if (!prefix_match || candidate.size() > prefix_match->size()) prefix_match = candidate;
  }
  return prefix_match;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  auto match = closest_match(word, candidates);
  return match ? " (did you mean '" + *match + "'?)" : "";
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

}  // namespace retort
