// tokenizer.json "pre_tokenizer": Split (Oniguruma regex or literal, all five behaviors, invert),
// ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit and Sequence. A pre-tokenizer only cuts
// text into pieces; ByteLevel's byte-to-character mapping is folded into the BPE model (see
// bpe_model.h) and Metaspace's space replacement is applied by the tokenizer before cutting.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/json_fields.h"

namespace ft::text {

using Cut = std::pair<size_t, size_t>;  // [begin, end) bytes of the normalized text

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces each piece of `pieces` (cuts of `text`, in order) with its sub-pieces.
  virtual void refine(std::string_view text, std::vector<Cut>& pieces) const = 0;
};

// What a ByteLevel step in the pre-tokenizer asks of the rest of the pipeline.
struct ByteLevelInfo {
  bool present = false;           // the model works on bytes mapped through bytes_char
  bool add_prefix_space = false;  // prepend " " to each section not starting with one
  bool trim_offsets = false;      // offsets leave out leading/trailing spaces
};

// What a Metaspace step asks: spaces become `replacement` ("▁") and, per `prepend`, a replacement is
// put in front of the text (always; only when the section starts the input; never). The cutting
// (split = true: before each "▁") is the pre-tokenizer's own.
struct MetaspaceInfo {
  enum class Prepend { Always, First, Never };
  bool present = false;
  std::string replacement = "\xE2\x96\x81";
  Prepend prepend = Prepend::Always;
};

struct PreTokenizerInfo {
  ByteLevelInfo byte_level;
  MetaspaceInfo metaspace;
};

// Builds the pre-tokenizer (nullptr when it splits nothing) and reports what it asks of the pipeline.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const JsonAt& at, PreTokenizerInfo& info);

}  // namespace ft::text
