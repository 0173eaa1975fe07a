// tokenizer.json "added_tokens": tokens matched in raw text before the model sees it, leftmost-longest,
// with HF's lstrip/rstrip/single_word/normalized/special flags.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace ft::text {

struct AddedToken {
  std::string content;
  TokenId id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

struct AddedMatch {
  size_t begin, end;  // bytes consumed, including whitespace taken by lstrip/rstrip
  TokenId id;
};

class AddedVocabulary {
 public:
  void add(AddedToken t);
  // Finds the tokens of one pass (normalized=false tokens on raw text, normalized=true ones on
  // normalized text), left to right, longest match first at each position.
  void find(std::string_view text, bool normalized_pass, std::vector<AddedMatch>& out) const;
  bool empty(bool normalized_pass) const { return tries_[normalized_pass].nodes.size() <= 1; }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t token = -1;  // index into tokens_ when a token ends here
  };
  struct Trie {
    std::vector<Node> nodes{Node{}};
    bool first_byte[256] = {};
  };
  std::vector<AddedToken> tokens_;
  Trie tries_[2];
};

}  // namespace ft::text
