// A string under transformation that remembers where each of its bytes came from, so tokens can
// report offsets into the caller's original text after normalization and prefix insertion.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ft::text {

using Span = std::pair<uint32_t, uint32_t>;

struct Aligned {
  std::string text;
  // For every byte of `text`, the [begin, end) range of the original it came from. Empty means the
  // identity: byte i came from [base + i, base + i + 1).
  std::vector<Span> spans;
  uint32_t base = 0;

  Span span_of(size_t i) const { return spans.empty() ? Span(base + i, base + i + 1) : spans[i]; }
  // Original range covered by text bytes [b, e) (b < e); an empty range maps to an empty span.
  Span range(size_t b, size_t e) const {
    if (b >= e) {
      uint32_t at =
          b < text.size() ? span_of(b).first : (text.empty() ? base : span_of(text.size() - 1).second);
      return {at, at};
    }
    return {span_of(b).first, span_of(e - 1).second};
  }
};

// Builds a new Aligned from pieces of an old one: copied runs keep their spans, replaced runs map to
// the span of the input they replace.
class AlignedBuilder {
 public:
  explicit AlignedBuilder(const Aligned& src) : src_(src) { out_.text.reserve(src.text.size() + 8); }
  // Appends src.text[b, e) unchanged.
  void copy(size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      out_.text.push_back(src_.text[i]);
      out_.spans.push_back(src_.span_of(i));
    }
  }
  // Appends `replacement` standing for src.text[b, e); when b == e it is an insertion at b.
  void replace(size_t b, size_t e, std::string_view replacement) {
    Span s = src_.range(b, e);
    for (char c : replacement) {
      out_.text.push_back(c);
      out_.spans.push_back(s);
    }
  }
  Aligned finish() {
    out_.base = src_.base;
    return std::move(out_);
  }

 private:
  const Aligned& src_;
  Aligned out_;
};

}  // namespace ft::text
