// Pattern matching for tokenizer.json: literals by plain search (an empty literal matches nothing),
// regexes through Oniguruma.
#include "text/pattern.h"

namespace ft::text {

Pattern::Pattern(const json& spec, const JsonAt& at) {
  if (spec.is_object() && spec.contains("Regex")) {
    regex_ = std::make_unique<Regex>(json_string(spec["Regex"], at.field("Regex")), at.where());
  } else if (spec.is_object() && spec.contains("String")) {
    literal_ = json_string(spec["String"], at.field("String"));
  } else {
    at.fail("expected {\"String\": ...} or {\"Regex\": ...}");
  }
}

void Pattern::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  if (regex_) {
    regex_->find_all(text, out);
    return;
  }
  if (literal_.empty()) return;
  for (size_t p = text.find(literal_); p != std::string_view::npos;
       p = text.find(literal_, p + literal_.size()))
    out.emplace_back(p, p + literal_.size());
}

}  // namespace ft::text
