// tokenizer.json "decoder": turns token strings back into text. ByteLevel, ByteFallback, Fuse,
// Replace, Strip, Metaspace and Sequence, each rewriting the token list as HF's decode_chain does.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "text/json_fields.h"

namespace ft::text {

struct DecodePiece {
  std::string text;
  // Added tokens keep their text through ByteLevel (transformers.js and HF's slow tokenizers emit them
  // verbatim); every other decoder treats them like any token, as HF tokenizers does.
  bool added = false;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<DecodePiece>& pieces) const = 0;
};

std::unique_ptr<Decoder> make_decoder(const json& spec, const JsonAt& at);

}  // namespace ft::text
