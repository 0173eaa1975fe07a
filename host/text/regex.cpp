// Oniguruma wrapper. A compiled regex_t is read-only during onig_search, so one Regex serves all
// threads; each search uses its own OnigRegion.
#include "text/regex.h"

#include <oniguruma.h>

#include <mutex>

#include "core/error.h"
#include "text/utf8.h"

namespace ft::text {
namespace {

void init_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

struct RegionDeleter {
  void operator()(OnigRegion* r) const { onig_region_free(r, 1); }
};

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where) : pattern_(pattern) {
  init_oniguruma();
  OnigRegex re = nullptr;
  OnigErrorInfo info;
  auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  // Ruby syntax is Oniguruma's default and what the onig crate (HF tokenizers) compiles with.
  int rc = onig_new(&re, p, p + pattern.size(), ONIG_OPTION_CAPTURE_GROUP, ONIG_ENCODING_UTF8,
                    ONIG_SYNTAX_RUBY, &info);
  if (rc != ONIG_NORMAL) {
    OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(msg, rc, &info);
    throw Error(where + ": invalid regex /" + pattern + "/: " + reinterpret_cast<char*>(msg),
                "the pattern must be an Oniguruma (Ruby syntax) regular expression, as HF tokenizers uses");
  }
  regex_ = re;
}

Regex::~Regex() {
  if (regex_) onig_free(static_cast<OnigRegex>(regex_));
}

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  // Oniguruma assumes well-formed UTF-8. Encoding paths always pass repaired text; decoders can meet
  // raw bytes (after ByteFallback), which no pattern is meant to match.
  if (!utf8::is_valid(s)) return;
  thread_local std::unique_ptr<OnigRegion, RegionDeleter> region(onig_region_new());
  auto re = static_cast<OnigRegex>(regex_);
  auto* begin = reinterpret_cast<const OnigUChar*>(s.data());
  auto* end = begin + s.size();
  size_t pos = 0;
  while (pos <= s.size()) {
    int r = onig_search(re, begin, end, begin + pos, end, region.get(), ONIG_OPTION_NONE);
    if (r == ONIG_MISMATCH) break;
    if (r < 0) {
      OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
      onig_error_code_to_str(msg, r);
      throw Error("regex /" + pattern_ + "/ failed: " + reinterpret_cast<char*>(msg));
    }
    size_t b = static_cast<size_t>(region->beg[0]), e = static_cast<size_t>(region->end[0]);
    if (e > b) {
      out.emplace_back(b, e);
      pos = e;
    } else {
      // Empty match: step over one whole UTF-8 character.
      pos = b + 1;
      while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
    }
  }
}

}  // namespace ft::text
