// Normalizers from tokenizer.json. Unicode forms go through utf8proc; to keep offsets exact, text that
// changes is normalized segment by segment, a segment being a character that cannot combine with what
// precedes it plus everything up to the next such character.
#include "text/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "text/pattern.h"
#include "text/utf8.h"

namespace ft::text {
namespace {

// ---- Unicode normalization forms -----------------------------------------------------------------
std::string utf8proc_apply(std::string_view s, int options) {
  utf8proc_uint8_t* out = nullptr;
  auto n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                   static_cast<utf8proc_ssize_t>(s.size()), &out, static_cast<utf8proc_option_t>(options));
  if (n < 0) throw Error(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

// Characters of combining class 0 that canonical composition can still attach to the character
// before them (Hangul vowels and trailing consonants, some Indic and Brahmi vowel signs): the non-first
// class-0 parts of canonical decompositions, computed once from utf8proc's own tables.
const std::vector<bool>& composes_as_second() {
  static const std::vector<bool> set = [] {
    std::vector<bool> out(0x110000, false);
    utf8proc_int32_t buf[8];
    for (utf8proc_int32_t c = 0xA0; c < 0x110000; ++c) {
      if (c >= 0xD800 && c < 0xE000) continue;
      auto n =
          utf8proc_decompose_char(c, buf, 8, static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), nullptr);
      for (utf8proc_ssize_t k = 1; k < n && k < 8; ++k)
        if (utf8proc_get_property(buf[k])->combining_class == 0) out[static_cast<size_t>(buf[k])] = true;
    }
    return out;
  }();
  return set;
}

// A character no composition can attach to its predecessor: class 0 and not a composition second.
bool starts_segment(char32_t c) {
  if (c < 0x80) return true;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class == 0 &&
         !composes_as_second()[c];
}

// NFC quick check: a character below U+0300 (before the combining marks), or one that starts a
// segment and has no decomposition at all, is left alone by NFC, so text made only of such
// characters is already NFC.
bool surely_nfc(std::string_view s) {
  char32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t len = utf8::decode(s, i, &cp);
    if (!len) return false;
    if (cp >= 0x300 &&
        !(starts_segment(cp) &&
          utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->decomp_seqindex == UINT16_MAX))
      return false;
    i += len;
  }
  return true;
}

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(int options) : options_(options | UTF8PROC_STABLE) {}
  void apply(Aligned& s) const override {
    bool ascii = true;
    for (char c : s.text) ascii &= static_cast<unsigned char>(c) < 0x80;
    if (ascii) return;
    const bool nfc = options_ == (UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (nfc && surely_nfc(s.text)) return;
    // Segment by segment; for NFC, segments that pass the quick check are kept without utf8proc.
    AlignedBuilder b(s);
    bool changed = false;
    size_t seg = 0;
    char32_t cp = 0;
    auto flush = [&](size_t end) {
      if (end == seg) return;
      std::string_view piece(s.text.data() + seg, end - seg);
      std::string n;
      if (!(nfc && surely_nfc(piece))) n = utf8proc_apply(piece, options_);
      if (n.empty() || n == piece) {
        b.copy(seg, end);
      } else {
        b.replace(seg, end, n);
        changed = true;
      }
      seg = end;
    };
    for (size_t i = 0; i < s.text.size();) {
      size_t len = utf8::decode(s.text, i, &cp);
      if (len == 0) len = 1;  // cannot happen on repaired text; keeps the loop total
      if (i > seg && starts_segment(cp)) flush(i);
      i += len;
    }
    flush(s.text.size());
    if (changed) s = b.finish();
  }

 private:
  int options_;
};

// ---- character-wise rewrites -----------------------------------------------------------------------
// Applies f to every code point; f returns false to keep the character, or fills `out` with its
// replacement (possibly empty, which deletes it).
template <class F>
void map_chars(Aligned& s, F f) {
  std::string repl;
  char32_t cp = 0;
  bool changed = false;
  for (size_t i = 0; i < s.text.size() && !changed;) {
    size_t len = std::max<size_t>(1, utf8::decode(s.text, i, &cp));
    repl.clear();
    changed = f(cp, repl);
    i += len;
  }
  if (!changed) return;
  AlignedBuilder b(s);
  for (size_t i = 0; i < s.text.size();) {
    size_t len = std::max<size_t>(1, utf8::decode(s.text, i, &cp));
    repl.clear();
    if (f(cp, repl))
      b.replace(i, i + len, repl);
    else
      b.copy(i, i + len);
    i += len;
  }
  s = b.finish();
}

class Lowercase final : public Normalizer {
 public:
  void apply(Aligned& s) const override {
    map_chars(s, [](char32_t c, std::string& out) {
      auto lower = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
      if (lower == c) return false;
      utf8::append(out, lower);
      return true;
    });
  }
};

class StripAccents final : public Normalizer {
 public:
  void apply(Aligned& s) const override {
    map_chars(s, [](char32_t c, std::string&) {
      return c >= 0x300 && utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_MN;
    });
  }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void apply(Aligned& s) const override {
    size_t b = 0, e = s.text.size();
    char32_t cp = 0;
    if (left_) {
      while (b < e) {
        size_t len = utf8::decode(s.text, b, &cp);
        if (!len || !utf8::is_white_space(cp)) break;
        b += len;
      }
    }
    if (right_) {
      while (e > b) {
        size_t start = e - 1;
        while (start > b && (static_cast<unsigned char>(s.text[start]) & 0xC0) == 0x80) --start;
        size_t len = utf8::decode(s.text, start, &cp);
        if (!len || !utf8::is_white_space(cp)) break;
        e = start;
      }
    }
    if (b == 0 && e == s.text.size()) return;
    AlignedBuilder out(s);
    out.copy(b, e);
    s = out.finish();
  }

 private:
  bool left_, right_;
};

class Replace final : public Normalizer {
 public:
  Replace(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void apply(Aligned& s) const override {
    std::vector<std::pair<size_t, size_t>> hits;
    pattern_.find_all(s.text, hits);
    if (hits.empty()) return;
    AlignedBuilder b(s);
    size_t at = 0;
    for (auto [hb, he] : hits) {
      b.copy(at, hb);
      b.replace(hb, he, content_);
      at = he;
    }
    b.copy(at, s.text.size());
    s = b.finish();
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string p) : prefix_(std::move(p)) {}
  void apply(Aligned& s) const override {
    if (s.text.empty()) return;
    AlignedBuilder b(s);
    b.replace(0, 0, prefix_);
    b.copy(0, s.text.size());
    s = b.finish();
  }

 private:
  std::string prefix_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  void apply(Aligned& s) const override {
    for (auto& p : parts_) p->apply(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& spec, const JsonAt& at) {
  if (spec.is_null()) return nullptr;
  std::string type = json_type(spec, at);
  if (type == "NFC") return std::make_unique<UnicodeForm>(UTF8PROC_COMPOSE);
  if (type == "NFD") return std::make_unique<UnicodeForm>(UTF8PROC_DECOMPOSE);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip")
    return std::make_unique<Strip>(json_opt_bool(spec, "strip_left", at, true),
                                   json_opt_bool(spec, "strip_right", at, true));
  if (type == "Prepend")
    return std::make_unique<Prepend>(json_string(json_require(spec, "prepend", at), at.field("prepend")));
  if (type == "Replace")
    return std::make_unique<Replace>(Pattern(json_require(spec, "pattern", at), at.field("pattern")),
                                     json_string(json_require(spec, "content", at), at.field("content")));
  if (type == "Sequence") {
    const json& list = json_array(json_require(spec, "normalizers", at), at.field("normalizers"));
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto n = make_normalizer(list[i], at.field("normalizers").index(i));
      if (n) parts.push_back(std::move(n));
    }
    return std::make_unique<Sequence>(std::move(parts));
  }
  at.field("type").fail(
      "unsupported normalizer type \"" + type + "\"",
      "supported: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, Sequence");
}

}  // namespace ft::text
