// Added-token matching with a byte trie per pass; single_word and the strip flags follow HF
// tokenizers' AddedVocabulary (word characters are alphanumerics and '_').
#include "text/added_vocab.h"

#include <utf8proc.h>

#include "text/utf8.h"

namespace ft::text {
namespace {

bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
         (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

// The code point ending just before byte `at` (0 when at == 0).
char32_t char_before(std::string_view s, size_t at) {
  if (at == 0) return 0;
  size_t b = at - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
  char32_t cp = 0;
  return utf8::decode(s, b, &cp) ? cp : 0;
}

char32_t char_at(std::string_view s, size_t at, size_t* len) {
  char32_t cp = 0;
  *len = at < s.size() ? utf8::decode(s, at, &cp) : 0;
  return *len ? cp : 0;
}

}  // namespace

void AddedVocabulary::add(AddedToken t) {
  if (t.content.empty()) return;
  Trie& trie = tries_[t.normalized];
  int32_t node = 0;
  for (unsigned char c : t.content) {
    int32_t child = -1;
    for (auto& [b, n] : trie.nodes[node].children)
      if (b == c) child = n;
    if (child < 0) {
      child = static_cast<int32_t>(trie.nodes.size());
      trie.nodes[node].children.emplace_back(c, child);
      trie.nodes.emplace_back();
    }
    node = child;
  }
  trie.first_byte[static_cast<unsigned char>(t.content[0])] = true;
  // A later entry with the same content wins, as HF's added vocabulary maps content -> last id.
  trie.nodes[node].token = static_cast<int32_t>(tokens_.size());
  tokens_.push_back(std::move(t));
}

void AddedVocabulary::find(std::string_view text, bool normalized_pass, std::vector<AddedMatch>& out) const {
  const Trie& trie = tries_[normalized_pass];
  if (trie.nodes.size() <= 1) return;
  size_t last_end = 0;
  for (size_t i = 0; i < text.size();) {
    if (!trie.first_byte[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      int32_t child = -1;
      for (auto& [b, n] : trie.nodes[node].children)
        if (b == static_cast<unsigned char>(text[j])) child = n;
      if (child < 0) break;
      node = child;
      if (trie.nodes[node].token >= 0) best = trie.nodes[node].token, best_end = j + 1;
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const AddedToken& t = tokens_[static_cast<size_t>(best)];
    size_t len = 0;
    if (t.single_word &&
        (is_word_char(char_before(text, i)) || is_word_char(char_at(text, best_end, &len)))) {
      ++i;
      continue;
    }
    size_t b = i, e = best_end;
    if (t.lstrip) {
      while (b > last_end) {
        char32_t c = char_before(text, b);
        if (!utf8::is_white_space(c)) break;
        b -= c < 0x80 ? 1 : (c < 0x800 ? 2 : (c < 0x10000 ? 3 : 4));
      }
    }
    if (t.rstrip) {
      for (char32_t c = char_at(text, e, &len); len && utf8::is_white_space(c); c = char_at(text, e, &len))
        e += len;
    }
    out.push_back({b, e, t.id});
    last_end = e;
    i = e;
  }
}

}  // namespace ft::text
