// Oniguruma, the regex engine HF tokenizers uses (SysRegex), behind a small thread-safe interface:
// compile a pattern once, then find every non-overlapping match in a UTF-8 string.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ft::text {

class Regex {
 public:
  // Throws ft::Error carrying Oniguruma's message; `where` names the pattern's origin for it.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the [begin, end) byte spans of all non-empty, non-overlapping matches in s, left to
  // right. Empty matches are skipped as HF's find_iter does. Ill-formed UTF-8 has no matches.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* regex_ = nullptr;  // OnigRegex, kept opaque so oniguruma.h stays out of the header
};

}  // namespace ft::text
