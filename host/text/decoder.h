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
  bool added = false;  // added tokens pass through the decoders untouched, as in transformers.js
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<DecodePiece>& pieces) const = 0;
};

std::unique_ptr<Decoder> make_decoder(const json& spec, const JsonAt& at);

}  // namespace ft::text
