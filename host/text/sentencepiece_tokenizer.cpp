// SentencePiece models (tokenizer.model: Llama 2, Mistral) through libsentencepiece, reached via the
// shim module of spm_shim/ (dlopen'ed so its bundled protobuf stays private). As HF's tokenizers do,
// special pieces written in the text (<s>, </s>, added tokens from tokenizer_config.json) are matched
// first and the text between them is encoded by SentencePiece.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "core/error.h"
#include "core/fs.h"
#include "text/added_vocab.h"
#include "text/json_fields.h"
#include "text/spm_shim/spm_shim.h"
#include "text/utf8.h"

namespace ft::text {
namespace {

// ---- the shim's functions, resolved once ---------------------------------------------------------
struct SpmApi {
  decltype(&ft_spm_load) load;
  decltype(&ft_spm_free) free;
  decltype(&ft_spm_piece_size) piece_size;
  decltype(&ft_spm_id_to_piece) id_to_piece;
  decltype(&ft_spm_piece_to_id) piece_to_id;
  decltype(&ft_spm_piece_flags) piece_flags;
  decltype(&ft_spm_special_ids) special_ids;
  decltype(&ft_spm_encode) encode;
  decltype(&ft_spm_decode) decode;
};

std::string exe_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

const SpmApi& spm_api() {
  static SpmApi api;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("FTHOST_SPM_SHIM")) candidates.emplace_back(env);
    candidates.push_back(exe_dir() + "/libft_spm_shim.so");
#ifdef FT_SPM_SHIM_PATH
    candidates.emplace_back(FT_SPM_SHIM_PATH);
#endif
    // DEEPBIND keeps sentencepiece's protobuf-lite symbols bound inside it; sanitizer runtimes refuse
    // DEEPBIND, and RTLD_LOCAL alone still keeps them out of the global scope.
#if defined(__SANITIZE_ADDRESS__)
    int flags = RTLD_NOW | RTLD_LOCAL;
#else
    int flags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif
    void* h = nullptr;
    std::string tried;
    for (auto& c : candidates) {
      if (!fs::exists(c)) {
        tried += "\n  " + c + " (missing)";
        continue;
      }
      h = ::dlopen(c.c_str(), flags);
      if (h) break;
      tried += "\n  " + c + " (" + ::dlerror() + ")";
    }
    if (!h) {
      error = "cannot load the SentencePiece module libft_spm_shim.so; tried:" + tried;
      return;
    }
    auto sym = [&](const char* name) {
      void* f = ::dlsym(h, name);
      if (!f) error = std::string("libft_spm_shim.so lacks ") + name;
      return f;
    };
    api.load = reinterpret_cast<decltype(api.load)>(sym("ft_spm_load"));
    api.free = reinterpret_cast<decltype(api.free)>(sym("ft_spm_free"));
    api.piece_size = reinterpret_cast<decltype(api.piece_size)>(sym("ft_spm_piece_size"));
    api.id_to_piece = reinterpret_cast<decltype(api.id_to_piece)>(sym("ft_spm_id_to_piece"));
    api.piece_to_id = reinterpret_cast<decltype(api.piece_to_id)>(sym("ft_spm_piece_to_id"));
    api.piece_flags = reinterpret_cast<decltype(api.piece_flags)>(sym("ft_spm_piece_flags"));
    api.special_ids = reinterpret_cast<decltype(api.special_ids)>(sym("ft_spm_special_ids"));
    api.encode = reinterpret_cast<decltype(api.encode)>(sym("ft_spm_encode"));
    api.decode = reinterpret_cast<decltype(api.decode)>(sym("ft_spm_decode"));
  });
  if (!error.empty())
    throw Error(error,
                "build the ft_spm_shim target (it sits next to fthost) or set FTHOST_SPM_SHIM to its path");
  return api;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& file) : api_(spm_api()) {
    char err[512] = {0};
    model_ = api_.load(file.c_str(), err, sizeof(err));
    if (!model_)
      throw Error(file + ": cannot load SentencePiece model: " + err,
                  "tokenizer.model must be a serialized SentencePiece ModelProto");
    pieces_ = api_.piece_size(model_);
    int bos = -1, eos = -1, pad = -1, unk = -1;
    api_.special_ids(model_, &bos, &eos, &pad, &unk);
    auto set = [&](int id, std::string& name, std::optional<TokenId>& out) {
      if (id < 0) return;
      out = id, name = piece(id);
    };
    set(bos, bos_token, bos_id);
    set(eos, eos_token, eos_id);
    set(pad, pad_token, pad_id);
    for (int id = 0; id < pieces_; ++id) {
      int flags = api_.piece_flags(model_, id);
      if (flags & (FT_SPM_CONTROL | FT_SPM_UNKNOWN)) special_.push_back(id);
      if ((flags & FT_SPM_CONTROL) && !piece(id).empty())
        added_.add(AddedToken{piece(id), id, false, false, false, false, true});
    }
    if (bos_id) prefix_.push_back(*bos_id);
  }
  ~SentencePieceTokenizer() override { api_.free(model_); }
  SentencePieceTokenizer(const SentencePieceTokenizer&) = delete;
  SentencePieceTokenizer& operator=(const SentencePieceTokenizer&) = delete;

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
        if (t.id < 0 || t.id >= pieces_ + 2 * static_cast<int64_t>(decoder->size()) + 1024)
          tat.fail("token id " + it.key() + " is out of range (the model has " + std::to_string(pieces_) +
                   " pieces)");
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
    std::vector<int32_t> run;
    auto flush = [&] {
      if (run.empty()) return;
      std::string buf(run.size() * 8 + 16, '\0');
      size_t n = api_.decode(model_, run.data(), static_cast<int>(run.size()), buf.data(), buf.size());
      if (n > buf.size()) {
        buf.resize(n);
        api_.decode(model_, run.data(), static_cast<int>(run.size()), buf.data(), buf.size());
      }
      buf.resize(n);
      out += buf;
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
    int64_t n = pieces_;
    for (auto& [id, c] : extra_content_) n = std::max<int64_t>(n, id + 1);
    return n;
  }
  std::optional<TokenId> token_to_id(std::string_view token) const override {
    for (auto& [id, c] : extra_content_)
      if (c == token) return id;
    int id = api_.piece_to_id(model_, token.data(), token.size());
    if (id < 0) return std::nullopt;
    return id;
  }
  std::optional<std::string> id_to_token(TokenId id) const override {
    for (auto& [eid, c] : extra_content_)
      if (eid == id) return c;
    if (id < 0 || id >= pieces_) return std::nullopt;
    return piece(id);
  }
  bool is_special(TokenId id) const override {
    return std::binary_search(special_.begin(), special_.end(), id);
  }
  std::string kind() const override { return "sentencepiece"; }

 private:
  std::string piece(int id) const {
    size_t len = 0;
    const char* p = api_.id_to_piece(model_, id, &len);
    return p ? std::string(p, len) : std::string();
  }

  bool is_extra(TokenId id) const {
    for (auto& [eid, c] : extra_content_)
      if (eid == id) return true;
    return false;
  }

  void encode_section(const std::string& text, size_t b, size_t e, Encoding& enc) const {
    if (b >= e) return;
    thread_local std::vector<int32_t> ids;
    thread_local std::vector<uint32_t> begins, ends;
    size_t cap = (e - b) + 16;  // SentencePiece yields at most one piece per byte (plus specials)
    for (;;) {
      ids.resize(cap), begins.resize(cap), ends.resize(cap);
      int n = api_.encode(model_, text.data() + b, e - b, ids.data(), begins.data(), ends.data(),
                          static_cast<int>(cap));
      if (n < 0) throw Error("SentencePiece failed to encode the text");
      if (static_cast<size_t>(n) > cap) {
        cap = static_cast<size_t>(n);
        continue;
      }
      for (int i = 0; i < n; ++i) {
        enc.ids.push_back(ids[i]);
        enc.offsets.emplace_back(static_cast<uint32_t>(b + begins[i]), static_cast<uint32_t>(b + ends[i]));
      }
      return;
    }
  }

  const SpmApi& api_;
  ft_spm* model_ = nullptr;
  int pieces_ = 0;
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
    } catch (const json::exception& e) {  // parse_error, or out_of_range for numbers like 1E999
      throw Error(config_file + ": not valid JSON: " + e.what());
    }
    tok->apply_config(cfg, config_file);
  }
  return tok;
}

}  // namespace ft::text
