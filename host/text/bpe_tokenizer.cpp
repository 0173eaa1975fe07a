// The byte-level BPE tokenizer described by a tokenizer.json: added tokens -> normalizer -> normalized
// added tokens -> pre-tokenizer -> BPE -> post-processor, tracking byte offsets into the input
// throughout, and the decoder chain back. tokenizer_config.json supplies special-token names, the
// chat templates and clean_up_tokenization_spaces.
#include <algorithm>

#include "text/added_vocab.h"
#include "text/aligned.h"
#include "text/bpe_model.h"
#include "text/decoder.h"
#include "text/normalizer.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer_json.h"
#include "text/utf8.h"

namespace ft::text {
namespace {

// What the post-processor adds around a single sequence (TemplateProcessing, Roberta/BertProcessing).
struct PostProcessor {
  std::vector<TokenId> prefix, suffix;
  bool trim_offsets = false;
};

std::vector<TokenId> template_special_ids(const json& specials, const std::string& name, const JsonAt& at) {
  JsonAt sat = at.field("special_tokens");
  if (!specials.is_object() || !specials.contains(name))
    sat.fail("the template uses \"" + name + "\" but special_tokens does not define it");
  const json& ids =
      json_array(json_require(specials[name], "ids", sat.field(name)), sat.field(name).field("ids"));
  std::vector<TokenId> out;
  for (size_t i = 0; i < ids.size(); ++i)
    out.push_back(static_cast<TokenId>(json_int(ids[i], sat.field(name).field("ids").index(i))));
  return out;
}

void parse_post_processor(const json& spec, const JsonAt& at, PostProcessor& pp) {
  if (spec.is_null()) return;
  std::string type = json_type(spec, at);
  if (type == "ByteLevel") {
    pp.trim_offsets = json_opt_bool(spec, "trim_offsets", at, true);
  } else if (type == "TemplateProcessing") {
    const json& single = json_array(json_require(spec, "single", at), at.field("single"));
    const json& specials = json_require(spec, "special_tokens", at, true);
    bool seen_a = false;
    for (size_t i = 0; i < single.size(); ++i) {
      JsonAt iat = at.field("single").index(i);
      const json& item = single[i];
      if (item.is_object() && item.contains("SpecialToken")) {
        std::string name = json_string(json_require(item["SpecialToken"], "id", iat.field("SpecialToken")),
                                       iat.field("SpecialToken").field("id"));
        auto ids = template_special_ids(specials, name, at);
        (seen_a ? pp.suffix : pp.prefix)
            .insert((seen_a ? pp.suffix : pp.prefix).end(), ids.begin(), ids.end());
      } else if (item.is_object() && item.contains("Sequence")) {
        std::string id = json_string(json_require(item["Sequence"], "id", iat.field("Sequence")),
                                     iat.field("Sequence").field("id"));
        if (id != "A")
          iat.field("Sequence")
              .field("id")
              .fail("the single-sequence template may only use $A, found $" + id);
        seen_a = true;
      } else {
        iat.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      }
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    for (const char* key : {"cls", "sep"}) {
      const json& pair = json_array(json_require(spec, key, at), at.field(key));
      if (pair.size() != 2) at.field(key).fail("expected [token, id]");
      TokenId id = static_cast<TokenId>(json_int(pair[1], at.field(key).index(1)));
      (std::string(key) == "cls" ? pp.prefix : pp.suffix).push_back(id);
    }
    pp.trim_offsets = json_opt_bool(spec, "trim_offsets", at, false);
  } else if (type == "Sequence") {
    const json& list = json_array(json_require(spec, "processors", at), at.field("processors"));
    for (size_t i = 0; i < list.size(); ++i)
      parse_post_processor(list[i], at.field("processors").index(i), pp);
  } else {
    at.field("type").fail(
        "unsupported post-processor type \"" + type + "\"",
        "supported: ByteLevel, TemplateProcessing, RobertaProcessing, BertProcessing, Sequence");
  }
}

// HF's clean_up_tokenization: drops the space before punctuation and English contractions.
std::string clean_up_tokenization(const std::string& s) {
  static const std::pair<const char*, const char*> rules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  std::string out = s;
  for (auto [from, to] : rules) {
    std::string_view f(from);
    std::string next;
    size_t at = 0;
    for (size_t p = out.find(f); p != std::string::npos; p = out.find(f, at)) {
      next.append(out, at, p - at);
      next += to;
      at = p + f.size();
    }
    if (at == 0) continue;
    next.append(out, at, std::string::npos);
    out.swap(next);
  }
  return out;
}

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(const json& root, const std::string& file) {
    JsonAt top{file, ""};
    if (!root.is_object()) top.fail(std::string("expected a JSON object, found ") + json_kind(root));
    const json& model = json_require(root, "model", top);
    JsonAt mat = top.field("model");
    std::string mtype = json_opt_string(model, "type", mat, "BPE");
    if (mtype != "BPE")
      mat.field("type").fail(
          "unsupported model type \"" + mtype + "\"",
          "fthost reads BPE tokenizer.json files; for SentencePiece models keep tokenizer.model "
          "in the folder");
    static const json null_json;
    auto member = [&](const char* key) -> const json& {
      auto it = root.find(key);
      return it == root.end() ? null_json : *it;
    };
    normalizer_ = make_normalizer(member("normalizer"), top.field("normalizer"));
    pre_ = make_pre_tokenizer(member("pre_tokenizer"), top.field("pre_tokenizer"), pre_info_);
    model_ = std::make_unique<BpeModel>(model, mat, pre_info_.byte_level.present);
    decoder_ = make_decoder(member("decoder"), top.field("decoder"));
    parse_post_processor(member("post_processor"), top.field("post_processor"), post_);
    max_id_ = model_->max_id();

    const json& added = member("added_tokens");
    if (!added.is_null()) {
      JsonAt aat = top.field("added_tokens");
      json_array(added, aat);
      for (size_t i = 0; i < added.size(); ++i) {
        JsonAt iat = aat.index(i);
        const json& a = added[i];
        AddedToken t;
        int64_t id = json_int(json_require(a, "id", iat), iat.field("id"));
        int64_t limit =
            static_cast<int64_t>(model_->max_id()) + 1 + 2 * static_cast<int64_t>(added.size()) + 1024;
        if (id < 0 || id >= limit)
          iat.field("id").fail("token id " + std::to_string(id) +
                                   " is out of range (the model's vocab ends at " +
                                   std::to_string(model_->max_id()) + ")",
                               "added tokens extend the vocab with the next ids");
        t.id = static_cast<TokenId>(id);
        t.content = json_string(json_require(a, "content", iat), iat.field("content"));
        if (t.content.empty()) iat.field("content").fail("an added token cannot be empty");
        t.special = json_opt_bool(a, "special", iat, false);
        t.single_word = json_opt_bool(a, "single_word", iat, false);
        t.lstrip = json_opt_bool(a, "lstrip", iat, false);
        t.rstrip = json_opt_bool(a, "rstrip", iat, false);
        t.normalized = json_opt_bool(a, "normalized", iat, !t.special) && normalizer_ != nullptr;
        if (t.normalized) {
          Aligned n{t.content, {}, 0};
          normalizer_->apply(n);
          if (n.text.empty()) iat.field("content").fail("the token normalizes to an empty string");
          t.content = n.text;
        }
        added_content_[t.id] = json_string(a["content"], iat.field("content"));
        if (t.special) special_ids_.push_back(t.id);
        max_id_ = std::max(max_id_, t.id);
        added_.add(std::move(t));
      }
      std::sort(special_ids_.begin(), special_ids_.end());
    }
    for (TokenId id : post_.prefix) check_id(id, top.field("post_processor"));
    for (TokenId id : post_.suffix) check_id(id, top.field("post_processor"));
  }

  void apply_config(const json& cfg, const std::string& file) {
    JsonAt at{file, ""};
    if (!cfg.is_object()) at.fail(std::string("expected a JSON object, found ") + json_kind(cfg));
    auto token_name = [&](const char* key) -> std::string {
      auto it = cfg.find(key);
      if (it == cfg.end() || it->is_null()) return "";
      if (it->is_string()) return it->get<std::string>();
      if (it->is_object())
        return json_string(json_require(*it, "content", at.field(key)), at.field(key).field("content"));
      at.field(key).fail(std::string("expected a string or {\"content\": ...}, found ") + json_kind(*it));
    };
    auto set = [&](const char* key, std::string& name, std::optional<TokenId>& id) {
      std::string n = token_name(key);
      if (n.empty()) return;
      auto found = token_to_id(n);
      if (!found)
        at.field(key).fail("\"" + n + "\" is not a token of this tokenizer",
                           "check tokenizer.json added_tokens");
      name = n, id = found;
    };
    set("bos_token", bos_token, bos_id);
    set("eos_token", eos_token, eos_id);
    set("pad_token", pad_token, pad_id);
    clean_up_spaces_ = json_opt_bool(cfg, "clean_up_tokenization_spaces", at, false);
    // add_bos_token only matters when the post-processor does not already add specials.
    if (json_opt_bool(cfg, "add_bos_token", at, false) && post_.prefix.empty() && post_.suffix.empty() &&
        bos_id)
      post_.prefix.push_back(*bos_id);
    auto extra = cfg.find("additional_special_tokens");
    if (extra != cfg.end() && extra->is_array()) {
      for (size_t i = 0; i < extra->size(); ++i) {
        const json& e = (*extra)[i];
        std::string n =
            e.is_object() ? json_opt_string(e, "content", at.field("additional_special_tokens").index(i), "")
                          : json_string(e, at.field("additional_special_tokens").index(i));
        if (auto id = token_to_id(n)) special_ids_.push_back(*id);
      }
      std::sort(special_ids_.begin(), special_ids_.end());
      special_ids_.erase(std::unique(special_ids_.begin(), special_ids_.end()), special_ids_.end());
    }
    auto tpl = cfg.find("chat_template");
    if (tpl != cfg.end() && !tpl->is_null()) {
      JsonAt tat = at.field("chat_template");
      if (tpl->is_string()) {
        chat_template = tpl->get<std::string>();
      } else if (tpl->is_array()) {
        for (size_t i = 0; i < tpl->size(); ++i) {
          const json& e = (*tpl)[i];
          std::string name = json_string(json_require(e, "name", tat.index(i)), tat.index(i).field("name"));
          std::string source =
              json_string(json_require(e, "template", tat.index(i)), tat.index(i).field("template"));
          if (name == "default") chat_template = source;
          named_chat_templates.emplace_back(name, source);
        }
      } else {
        tat.fail(std::string("expected a string or a list of {name, template}, found ") + json_kind(*tpl));
      }
    }
  }

  Encoding encode(std::string_view text, bool add_special) const override {
    Encoding enc;
    Aligned src;
    if (utf8::is_valid(text))
      src.text.assign(text);
    else
      src.text = utf8::repair(text, &src.spans);

    if (add_special) push_specials(post_.prefix, enc);
    split_on_added(src, false, enc, [&](size_t b, size_t e) { encode_section(src, b, e, enc); });
    if (add_special) push_specials(post_.suffix, enc);
    return enc;
  }

  std::string decode(const std::vector<TokenId>& ids, bool skip_special) const override {
    std::vector<DecodePiece> pieces;
    pieces.reserve(ids.size());
    for (TokenId id : ids) {
      if (skip_special && is_special(id)) continue;
      auto added = added_content_.find(id);
      if (added != added_content_.end()) {
        pieces.push_back({added->second, true});
      } else if (const std::string* t = model_->id_to_token(id)) {
        pieces.push_back({*t, false});
      }
      // Unknown ids decode to nothing, as HF tokenizers' decode skips them.
    }
    if (decoder_) decoder_->decode_chain(pieces);
    std::string out;
    for (auto& p : pieces) out += p.text;
    if (!utf8::is_valid(out)) out = utf8::repair(out);
    return clean_up_spaces_ ? clean_up_tokenization(out) : out;
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(max_id_) + 1; }

  std::optional<TokenId> token_to_id(std::string_view token) const override {
    for (const AddedToken& t : added_.tokens())
      if (added_content_.at(t.id) == token) return t.id;
    return model_->token_to_id(token);
  }

  std::optional<std::string> id_to_token(TokenId id) const override {
    auto added = added_content_.find(id);
    if (added != added_content_.end()) return added->second;
    if (const std::string* t = model_->id_to_token(id)) return *t;
    return std::nullopt;
  }

  bool is_special(TokenId id) const override {
    return std::binary_search(special_ids_.begin(), special_ids_.end(), id);
  }
  std::string kind() const override { return "bpe"; }

 private:
  void check_id(TokenId id, const JsonAt& at) const {
    if (id < 0 || id > max_id_) at.fail("special token id " + std::to_string(id) + " is not in the vocab");
  }

  static void push_specials(const std::vector<TokenId>& ids, Encoding& enc) {
    for (TokenId id : ids) {
      enc.ids.push_back(id);
      enc.offsets.emplace_back(0, 0);
    }
  }

  // Finds the added tokens of one pass in s.text, emits each with its offsets, and hands the
  // stretches between them (possibly empty) to on_text(begin, end).
  template <class OnText>
  void split_on_added(const Aligned& s, bool normalized_pass, Encoding& enc, OnText on_text) const {
    if (added_.empty(normalized_pass)) {
      on_text(0, s.text.size());
      return;
    }
    std::vector<AddedMatch> matches;
    added_.find(s.text, normalized_pass, matches);
    size_t at = 0;
    for (const AddedMatch& m : matches) {
      on_text(at, m.begin);
      Span span = s.range(m.begin, m.end);
      enc.ids.push_back(m.id);
      enc.offsets.emplace_back(span.first, span.second);
      at = m.end;
    }
    on_text(at, s.text.size());
  }

  // Encodes src.text[b, e), a stretch between raw-text added tokens.
  void encode_section(const Aligned& src, size_t b, size_t e, Encoding& enc) const {
    if (b >= e) return;
    Aligned seg;
    seg.text.assign(src.text, b, e - b);
    if (src.spans.empty())
      seg.base = src.base + static_cast<uint32_t>(b);
    else
      seg.spans.assign(src.spans.begin() + static_cast<std::ptrdiff_t>(b),
                       src.spans.begin() + static_cast<std::ptrdiff_t>(e));
    if (normalizer_) normalizer_->apply(seg);
    if (seg.text.empty()) return;
    split_on_added(seg, true, enc, [&](size_t b, size_t e) { encode_normalized(seg, b, e, enc); });
  }

  // Metaspace: every space becomes the replacement ("▁"), then one is prepended per prepend_scheme
  // unless the text already starts with it (HF pre_tokenizers/metaspace.rs).
  Aligned metaspace_rewrite(const Aligned& seg, size_t b, size_t e) const {
    const MetaspaceInfo& ms = pre_info_.metaspace;
    AlignedBuilder builder(seg);
    bool starts_with_space =
        seg.text[b] == ' ' || seg.text.compare(b, ms.replacement.size(), ms.replacement) == 0;
    bool prepend =
        !starts_with_space && (ms.prepend == MetaspaceInfo::Prepend::Always ||
                               (ms.prepend == MetaspaceInfo::Prepend::First && seg.range(b, e).first == 0));
    if (prepend) builder.replace(b, b, ms.replacement);
    size_t run = b;
    for (size_t i = b; i < e; ++i) {
      if (seg.text[i] != ' ') continue;
      builder.copy(run, i);
      builder.replace(i, i + 1, ms.replacement);
      run = i + 1;
    }
    builder.copy(run, e);
    return builder.finish();
  }

  // Pre-tokenizes and runs the model over seg.text[b, e).
  void encode_normalized(const Aligned& seg_in, size_t b, size_t e, Encoding& enc) const {
    if (b >= e) return;
    const Aligned* seg = &seg_in;
    Aligned rewritten;
    if (pre_info_.metaspace.present) {
      rewritten = metaspace_rewrite(seg_in, b, e);
      seg = &rewritten;
      b = 0, e = rewritten.text.size();
    } else if (pre_info_.byte_level.add_prefix_space && seg_in.text[b] != ' ') {
      // ByteLevel(add_prefix_space): the inserted space maps to an empty span at the section start.
      AlignedBuilder builder(seg_in);
      builder.replace(b, b, " ");
      builder.copy(b, e);
      rewritten = builder.finish();
      seg = &rewritten;
      b = 0, e = rewritten.text.size();
    }
    thread_local std::vector<Cut> pieces;
    thread_local std::vector<TokenId> ids;
    thread_local std::vector<uint32_t> lens;
    pieces.assign(1, Cut(b, e));
    if (pre_) pre_->refine(seg->text, pieces);
    std::string_view text(seg->text);
    for (auto [pb, pe] : pieces) {
      ids.clear(), lens.clear();
      model_->encode(text.substr(pb, pe - pb), ids, lens);
      size_t at = pb;
      for (size_t k = 0; k < ids.size(); ++k) {
        size_t tb = at, te = at + lens[k];
        at = te;
        if (post_.trim_offsets) {
          size_t lead = 0, trail = 0;
          while (tb + lead < te && text[tb + lead] == ' ') ++lead;
          while (te - trail > tb + lead && text[te - trail - 1] == ' ') ++trail;
          // HF keeps the space ByteLevel itself added in front of the first token.
          if (lead == 1 && pre_info_.byte_level.add_prefix_space && tb == 0) lead = 0;
          tb += lead, te -= trail;
        }
        Span s = seg->range(tb, te);
        enc.ids.push_back(ids[k]);
        enc.offsets.emplace_back(s.first, s.second);
      }
    }
  }

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_;
  PreTokenizerInfo pre_info_;
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Decoder> decoder_;
  PostProcessor post_;
  AddedVocabulary added_;
  std::unordered_map<TokenId, std::string> added_content_;  // as written in the file (before normalizing)
  std::vector<TokenId> special_ids_;                        // sorted
  TokenId max_id_ = -1;
  bool clean_up_spaces_ = false;
};

json parse_json(std::string_view text, const std::string& file) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // parse_error, or out_of_range for numbers like 1E999
    // nlohmann reports "[json.exception.parse_error.101] parse error at line 3, column 7: ..."
    std::string what = e.what();
    size_t at = what.find("] ");
    throw Error(file + ": not valid JSON: " + (at == std::string::npos ? what : what.substr(at + 2)),
                "the file is truncated or was edited by hand; download it again");
  }
}

}  // namespace

std::shared_ptr<Tokenizer> parse_tokenizer_json(std::string_view json_text, const std::string& file,
                                                std::string_view config_text, const std::string& config_file,
                                                std::string_view special_map_text,
                                                const std::string& special_map_file) {
  auto tok = std::make_shared<BpeTokenizer>(parse_json(json_text, file), file);
  // The map first, so tokenizer_config.json's values win where both name a token.
  if (!special_map_text.empty())
    tok->apply_config(parse_json(special_map_text, special_map_file), special_map_file);
  if (!config_text.empty()) tok->apply_config(parse_json(config_text, config_file), config_file);
  return tok;
}

}  // namespace ft::text
