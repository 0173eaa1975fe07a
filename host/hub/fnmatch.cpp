// fnmatch.fnmatchcase semantics: translate() turns the pattern into a regex where '*' is '.*', '?' is
// '.', and brackets are character sets ('[!' negates, a ']' right after '[' or '[!' is literal, an
// unclosed '[' is a literal '['). Implemented as a backtracking matcher over those tokens.
#include "hub/fnmatch.h"

#include <algorithm>

namespace ft::hub {
namespace {

// Matches a bracket set starting at pattern[p] == '['. Returns the index after ']' or npos when
// the bracket is unclosed (then '[' is literal). `hit` tells whether c is in the set.
size_t match_bracket(const std::string& pat, size_t p, char c, bool& hit) {
  size_t i = p + 1;
  bool negate = false;
  if (i < pat.size() && pat[i] == '!') {
    negate = true;
    ++i;
  }
  size_t start = i;
  if (i < pat.size() && pat[i] == ']') ++i;  // literal ']' first in the set
  while (i < pat.size() && pat[i] != ']') ++i;
  if (i >= pat.size()) return std::string::npos;
  bool in = false;
  for (size_t k = start; k < i; ++k) {
    if (k + 2 < i && pat[k + 1] == '-') {
      if (pat[k] <= c && c <= pat[k + 2]) in = true;
      k += 2;
    } else if (pat[k] == c) {
      in = true;
    }
  }
  hit = negate ? !in : in;
  return i + 1;
}

bool match_from(const std::string& s, size_t si, const std::string& pat, size_t pi) {
  while (pi < pat.size()) {
    char pc = pat[pi];
    if (pc == '*') {
      while (pi < pat.size() && pat[pi] == '*') ++pi;
      if (pi == pat.size()) return true;
      for (size_t k = si; k <= s.size(); ++k)
        if (match_from(s, k, pat, pi)) return true;
      return false;
    }
    if (si >= s.size()) return false;
    if (pc == '?') {
      ++si;
      ++pi;
      continue;
    }
    if (pc == '[') {
      bool hit = false;
      size_t next = match_bracket(pat, pi, s[si], hit);
      if (next != std::string::npos) {
        if (!hit) return false;
        ++si;
        pi = next;
        continue;
      }
    }
    if (s[si] != pc) return false;
    ++si;
    ++pi;
  }
  return si == s.size();
}

std::string normalize_pattern(std::string p) {
  std::replace(p.begin(), p.end(), '\\', '/');
  if (!p.empty() && p.back() == '/') p += '*';
  return p;
}

}  // namespace

bool fnmatch_case(const std::string& name, const std::string& pattern) {
  return match_from(name, 0, pattern, 0);
}

bool path_selected(const std::string& path, const std::vector<std::string>& include,
                   const std::vector<std::string>& exclude) {
  std::string p = path;
  std::replace(p.begin(), p.end(), '\\', '/');
  if (!include.empty()) {
    bool any = std::any_of(include.begin(), include.end(),
                           [&](const std::string& pat) { return fnmatch_case(p, normalize_pattern(pat)); });
    if (!any) return false;
  }
  return std::none_of(exclude.begin(), exclude.end(),
                      [&](const std::string& pat) { return fnmatch_case(p, normalize_pattern(pat)); });
}

}  // namespace ft::hub
