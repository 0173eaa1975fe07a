// The tokenizer interface every model and trainer uses. Implementations: byte-level BPE from
// tokenizer.json, SentencePiece (tokenizer.model), and a byte tokenizer for tiny models with no files.
// Chat templates (chat_template.h) are separate; tokenizer_config.json supplies them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ft::text {

using TokenId = int32_t;

struct Encoding {
  std::vector<TokenId> ids;
  // Byte offsets [begin, end) into the input text for each token (special tokens added by the
  // post-processor get {0, 0}).
  std::vector<std::pair<uint32_t, uint32_t>> offsets;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // add_special: apply the post-processor (e.g. prepend BOS) as HF's add_special_tokens=True does.
  virtual Encoding encode(std::string_view text, bool add_special) const = 0;
  virtual std::string decode(const std::vector<TokenId>& ids, bool skip_special) const = 0;
  // Encodes many texts on `threads` threads (0 = hardware concurrency); results in input order.
  virtual std::vector<Encoding> encode_batch(const std::vector<std::string>& texts, bool add_special,
                                             int threads) const;
  virtual int64_t vocab_size() const = 0;  // including added tokens
  virtual std::optional<TokenId> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(TokenId id) const = 0;
  virtual bool is_special(TokenId id) const = 0;
  virtual std::string kind() const = 0;  // "bpe", "sentencepiece", "bytes"

  std::optional<TokenId> bos_id, eos_id, pad_id;
  std::string bos_token, eos_token, pad_token;
  // From tokenizer_config.json: the default chat template source ("" when none) and named ones.
  std::string chat_template;
  std::vector<std::pair<std::string, std::string>> named_chat_templates;
};

// Loads a tokenizer from a model folder: tokenizer.json (+ tokenizer_config.json, special_tokens_map.json)
// or tokenizer.model. Throws ft::Error naming the file and field on malformed input.
std::shared_ptr<Tokenizer> load_tokenizer(const std::string& dir);
// Bytes 0..255 are ids 0..255; then <bos>=256, <eos>=257, <pad>=258. vocab_size 259.
std::shared_ptr<Tokenizer> make_byte_tokenizer();

}  // namespace ft::text
