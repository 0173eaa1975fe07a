// SentencePiece models (tokenizer.model: Llama 2, Mistral) through libsentencepiece. As HF's
// tokenizers do, special pieces written in the text (<s>, </s>, added tokens from
// tokenizer_config.json) are matched first and the text between them is encoded by SentencePiece.
#include <sentencepiece_processor.h>

#include <algorithm>

#include "core/error.h"
#include "text/added_vocab.h"
#include "text/json_fields.h"
#include "text/utf8.h"

namespace ft::text {
namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& file) {
    auto status = sp_.Load(file);
    if (!status.ok())
      throw Error(file + ": cannot load SentencePiece model: " + status.ToString(),
                  "tokenizer.model must be a serialized SentencePiece ModelProto");
    auto set = [&](int id, std::string& name, std::optional<TokenId>& out) {
      if (id < 0) return;
      out = id, name = sp_.IdToPiece(id);
    };
    set(sp_.bos_id(), bos_token, bos_id);
    set(sp_.eos_id(), eos_token, eos_id);
    set(sp_.pad_id(), pad_token, pad_id);
    for (int id = 0; id < sp_.GetPieceSize(); ++id) {
      if (sp_.IsControl(id) || sp_.IsUnknown(id)) special_.push_back(id);
      if (sp_.IsControl(id) && !sp_.IdToPiece(id).empty())
        added_.add(AddedToken{sp_.IdToPiece(id), id, false, false, false, false, true});
    }
    if (bos_id) prefix_.push_back(*bos_id);
  }

  void apply_config(const json& cfg, const std::string& file) {
    JsonAt at{file, ""};
    if (!cfg.is_object()) at.fail(std::string("expected a JSON object, found ") + json_kind(cfg));
    prefix_.clear(), suffix_.clear();
    if (json_opt_bool(cfg, "add_bos_token", at, true) && bos_id) prefix_.push_back(*bos_id);
    if (json_opt_bool(cfg, "add_eos_token", at, false) && eos_id) suffix_.push_back(*eos_id);
    auto decoder = cfg.find("added_tokens_decoder");
    if (decoder != cfg.end() && decoder->is_object()) {
      for (auto it = decoder->begin(); it != decoder->end(); ++it) {
        JsonAt tat = at.field("added_tokens_decoder").field(it.key());
        AddedToken t;
        try {
          t.id = static_cast<TokenId>(std::stol(it.key()));
        } catch (const std::exception&) {
          tat.fail("expected a numeric token id as the key");
        }
        t.content = json_string(json_require(it.value(), "content", tat), tat.field("content"));
        t.special = json_opt_bool(it.value(), "special", tat, false);
        t.lstrip = json_opt_bool(it.value(), "lstrip", tat, false);
        t.rstrip = json_opt_bool(it.value(), "rstrip", tat, false);
        t.single_word = json_opt_bool(it.value(), "single_word", tat, false);
        if (t.special) special_.push_back(t.id);
        extra_content_.emplace_back(t.id, t.content);
        added_.add(std::move(t));
      }
    }
    std::sort(special_.begin(), special_.end());
    auto tpl = cfg.find("chat_template");
    if (tpl != cfg.end() && tpl->is_string()) chat_template = tpl->get<std::string>();
  }

  Encoding encode(std::string_view text, bool add_special) const override {
    Encoding enc;
    std::string valid = utf8::is_valid(text) ? std::string(text) : utf8::repair(text);
    if (add_special)
      for (TokenId id : prefix_) enc.ids.push_back(id), enc.offsets.emplace_back(0, 0);
    std::vector<AddedMatch> matches;
    added_.find(valid, false, matches);
    size_t at = 0;
    for (const AddedMatch& m : matches) {
      encode_section(valid, at, m.begin, enc);
      enc.ids.push_back(m.id);
      enc.offsets.emplace_back(m.begin, m.end);
      at = m.end;
    }
    encode_section(valid, at, valid.size(), enc);
    if (add_special)
      for (TokenId id : suffix_) enc.ids.push_back(id), enc.offsets.emplace_back(0, 0);
    return enc;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override {
    std::string out;
    std::vector<int> run;
    auto flush = [&] {
      if (!run.empty()) out += sp_.DecodeIds(run);
      run.clear();
    };
    for (TokenId id : ids) {
      if (id < 0 || id >= vocab_size()) continue;
      if (is_special(id) || is_extra(id)) {
        if (skip_special && is_special(id)) continue;
        flush();
        out += *id_to_token(id);
      } else {
        run.push_back(id);
      }
    }
    flush();
    return out;
  }

  int64_t vocab_size() const override {
    int64_t n = sp_.GetPieceSize();
    for (auto& [id, c] : extra_content_) n = std::max<int64_t>(n, id + 1);
    return n;
  }
  std::optional<TokenId> token_to_id(std::string_view token) const override {
    for (auto& [id, c] : extra_content_)
      if (c == token) return id;
    int id = sp_.PieceToId(std::string(token));
    if (id == sp_.unk_id() && token != sp_.IdToPiece(id)) return std::nullopt;
    return id;
  }
  std::optional<std::string> id_to_token(TokenId id) const override {
    for (auto& [eid, c] : extra_content_)
      if (eid == id) return c;
    if (id < 0 || id >= sp_.GetPieceSize()) return std::nullopt;
    return sp_.IdToPiece(id);
  }
  bool is_special(TokenId id) const override {
    return std::binary_search(special_.begin(), special_.end(), id);
  }
  std::string kind() const override { return "sentencepiece"; }

 private:
  bool is_extra(TokenId id) const {
    for (auto& [eid, c] : extra_content_)
      if (eid == id) return true;
    return false;
  }

  void encode_section(const std::string& text, size_t b, size_t e, Encoding& enc) const {
    if (b >= e) return;
    auto spt = sp_.EncodeAsImmutableProto(std::string_view(text).substr(b, e - b));
    for (const auto& p : spt.pieces()) {
      enc.ids.push_back(static_cast<TokenId>(p.id()));
      enc.offsets.emplace_back(static_cast<uint32_t>(b + p.begin()), static_cast<uint32_t>(b + p.end()));
    }
  }

  sentencepiece::SentencePieceProcessor sp_;
  AddedVocabulary added_;
  std::vector<std::pair<TokenId, std::string>> extra_content_;  // tokens from tokenizer_config.json
  std::vector<TokenId> special_;                                // sorted
  std::vector<TokenId> prefix_, suffix_;
};

}  // namespace

std::shared_ptr<Tokenizer> load_sentencepiece(const std::string& model_file, const std::string& config_text,
                                              const std::string& config_file) {
  auto tok = std::make_shared<SentencePieceTokenizer>(model_file);
  if (!config_text.empty()) {
    json cfg;
    try {
      cfg = json::parse(config_text);
    } catch (const json::parse_error& e) {
      throw Error(config_file + ": not valid JSON: " + e.what());
    }
    tok->apply_config(cfg, config_file);
  }
  return tok;
}

}  // namespace ft::text
