// The byte tokenizer for tiny models that ship no tokenizer files: each UTF-8 byte is its own id
// (0..255), followed by three specials <bos>=256, <eos>=257, <pad>=258. Like HF added tokens, the
// special strings are recognised inside text; add_special prepends <bos>.
#include <array>
#include <cstring>

#include "text/tokenizer.h"

namespace ft::text {
namespace {

constexpr TokenId kBos = 256, kEos = 257, kPad = 258;
constexpr int64_t kVocab = 259;
constexpr std::array<const char*, 3> kSpecialNames = {"<bos>", "<eos>", "<pad>"};

class ByteTokenizer final : public Tokenizer {
 public:
  ByteTokenizer() {
    bos_id = kBos, eos_id = kEos, pad_id = kPad;
    bos_token = kSpecialNames[0], eos_token = kSpecialNames[1], pad_token = kSpecialNames[2];
  }

  Encoding encode(std::string_view text, bool add_special) const override {
    Encoding e;
    e.ids.reserve(text.size() + 1);
    e.offsets.reserve(text.size() + 1);
    if (add_special) {
      e.ids.push_back(kBos);
      e.offsets.emplace_back(0, 0);
    }
    for (size_t i = 0; i < text.size();) {
      TokenId special = match_special(text, i);
      if (special >= 0) {
        size_t len = std::strlen(kSpecialNames[special - kBos]);
        e.ids.push_back(special);
        e.offsets.emplace_back(i, i + len);
        i += len;
        continue;
      }
      e.ids.push_back(static_cast<unsigned char>(text[i]));
      e.offsets.emplace_back(i, i + 1);
      ++i;
    }
    return e;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override {
    std::string out;
    out.reserve(ids.size());
    for (TokenId id : ids) {
      if (id >= 0 && id < 256) {
        out.push_back(static_cast<char>(id));
      } else if (id >= kBos && id < kVocab) {
        if (!skip_special) out += kSpecialNames[id - kBos];
      }
      // Ids outside the vocabulary decode to nothing, as HF's decode skips unknown ids.
    }
    return out;
  }

  int64_t vocab_size() const override { return kVocab; }

  std::optional<TokenId> token_to_id(std::string_view token) const override {
    if (token.size() == 1) return static_cast<unsigned char>(token[0]);
    for (size_t k = 0; k < kSpecialNames.size(); ++k)
      if (token == kSpecialNames[k]) return kBos + static_cast<TokenId>(k);
    return std::nullopt;
  }

  std::optional<std::string> id_to_token(TokenId id) const override {
    if (id >= 0 && id < 256) return std::string(1, static_cast<char>(id));
    if (id >= kBos && id < kVocab) return std::string(kSpecialNames[id - kBos]);
    return std::nullopt;
  }

  bool is_special(TokenId id) const override { return id >= kBos && id < kVocab; }
  std::string kind() const override { return "bytes"; }

 private:
  static TokenId match_special(std::string_view text, size_t i) {
    if (text[i] != '<') return -1;
    for (size_t k = 0; k < kSpecialNames.size(); ++k) {
      std::string_view name = kSpecialNames[k];
      if (text.compare(i, name.size(), name) == 0) return kBos + static_cast<TokenId>(k);
    }
    return -1;
  }
};

}  // namespace

std::shared_ptr<Tokenizer> make_byte_tokenizer() {
  return std::make_shared<ByteTokenizer>();
}

}  // namespace ft::text
