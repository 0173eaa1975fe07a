// Small string helpers shared by engine areas: edit distance for "did you mean" hints, joining, and
// human-readable byte sizes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ft {

// Levenshtein distance (insert/delete/substitute, each cost 1).
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word`, or "" when none is close enough to be a plausible typo.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string human_bytes(uint64_t bytes);

}  // namespace ft
