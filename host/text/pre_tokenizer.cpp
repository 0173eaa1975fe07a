// Pre-tokenizers from tokenizer.json, following HF tokenizers' split semantics: a pattern's matches
// and the gaps between them form the pieces, and the behavior decides what happens to the matches.
#include "text/pre_tokenizer.h"

#include "text/pattern.h"

namespace ft::text {
namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// The GPT-2 pattern ByteLevel applies when use_regex is true.
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Splits each piece by a pattern per `behavior`; with `invert` the gaps are the delimiters.
class PatternSplit final : public PreTokenizer {
 public:
  PatternSplit(Pattern pattern, Behavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void refine(std::string_view text, std::vector<Cut>& pieces) const override {
    std::vector<Cut> out;
    out.reserve(pieces.size() * 4);
    std::vector<Cut> hits;
    std::vector<std::pair<Cut, bool>> marked;
    for (auto [b, e] : pieces) {
      hits.clear();
      pattern_.find_all(text.substr(b, e - b), hits);
      marked.clear();
      size_t at = 0;
      for (auto [hb, he] : hits) {
        if (hb > at) marked.push_back({{b + at, b + hb}, invert_});
        marked.push_back({{b + hb, b + he}, !invert_});
        at = he;
      }
      if (at < e - b) marked.push_back({{b + at, e}, invert_});
      apply_behavior(marked, out);
    }
    pieces.swap(out);
  }

 private:
  void apply_behavior(const std::vector<std::pair<Cut, bool>>& marked, std::vector<Cut>& out) const {
    size_t first = out.size();  // merging never reaches into the previous piece's output
    bool previous_match = false;
    switch (behavior_) {
      case Behavior::Isolated:
        for (auto& [c, m] : marked) out.push_back(c);
        break;
      case Behavior::Removed:
        for (auto& [c, m] : marked)
          if (!m) out.push_back(c);
        break;
      case Behavior::MergedWithPrevious:
        for (auto& [c, m] : marked) {
          if (m && !previous_match && out.size() > first)
            out.back().second = c.second;
          else
            out.push_back(c);
          previous_match = m;
        }
        break;
      case Behavior::MergedWithNext: {
        std::vector<Cut> rev;
        for (auto it = marked.rbegin(); it != marked.rend(); ++it) {
          if (it->second && !previous_match && !rev.empty())
            rev.back().first = it->first.first;
          else
            rev.push_back(it->first);
          previous_match = it->second;
        }
        out.insert(out.end(), rev.rbegin(), rev.rend());
        break;
      }
      case Behavior::Contiguous:
        for (size_t i = 0; i < marked.size(); ++i) {
          auto& [c, m] = marked[i];
          if (i > 0 && m == previous_match)
            out.back().second = c.second;
          else
            out.push_back(c);
          previous_match = m;
        }
        break;
    }
  }

  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

// Keeps only the matches of a pattern (Whitespace, WhitespaceSplit).
class RegexKeep final : public PreTokenizer {
 public:
  explicit RegexKeep(std::unique_ptr<Regex> re) : re_(std::move(re)) {}
  void refine(std::string_view text, std::vector<Cut>& pieces) const override {
    std::vector<Cut> out, hits;
    for (auto [b, e] : pieces) {
      hits.clear();
      re_->find_all(text.substr(b, e - b), hits);
      for (auto [hb, he] : hits) out.emplace_back(b + hb, b + he);
    }
    pieces.swap(out);
  }

 private:
  std::unique_ptr<Regex> re_;
};

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void refine(std::string_view text, std::vector<Cut>& pieces) const override {
    for (auto& p : parts_) p->refine(text, pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

Behavior parse_behavior(const json& spec, const JsonAt& at) {
  std::string b = json_string(json_require(spec, "behavior", at), at.field("behavior"));
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  at.field("behavior")
      .fail("unknown split behavior \"" + b + "\"",
            "one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

std::unique_ptr<PreTokenizer> build(const json& spec, const JsonAt& at, PreTokenizerInfo& info,
                                    bool& split_before) {
  if (spec.is_null()) return nullptr;
  std::string type = json_type(spec, at);
  ByteLevelInfo& bl = info.byte_level;
  if (bl.present)
    at.fail("a " + type + " pre-tokenizer after ByteLevel is not supported",
            "ByteLevel must be the last pre-tokenizer of a Sequence (as in GPT-2, Qwen2 and Llama 3 files)");
  if (type == "Split") {
    split_before = true;
    return std::make_unique<PatternSplit>(Pattern(json_require(spec, "pattern", at), at.field("pattern")),
                                          parse_behavior(spec, at), json_opt_bool(spec, "invert", at, false));
  }
  if (type == "ByteLevel") {
    bl.present = true;
    bl.add_prefix_space = json_opt_bool(spec, "add_prefix_space", at, true);
    bl.trim_offsets = json_opt_bool(spec, "trim_offsets", at, true);
    if (bl.add_prefix_space && split_before)
      at.field("add_prefix_space")
          .fail("add_prefix_space after another splitting pre-tokenizer is not supported",
                "put ByteLevel first or set add_prefix_space to false");
    if (!json_opt_bool(spec, "use_regex", at, true)) return nullptr;
    return std::make_unique<PatternSplit>(Pattern(std::make_unique<Regex>(kGpt2Pattern, at.where())),
                                          Behavior::Isolated, false);
  }
  if (type == "Metaspace") {
    if (split_before || info.metaspace.present)
      at.fail("Metaspace after another splitting pre-tokenizer is not supported",
              "put Metaspace first (as in Llama 2 and Mistral files)");
    MetaspaceInfo& ms = info.metaspace;
    ms.present = true;
    ms.replacement = json_opt_string(spec, "replacement", at, ms.replacement);
    if (ms.replacement.empty()) at.field("replacement").fail("the replacement cannot be empty");
    // Older files say add_prefix_space instead of prepend_scheme.
    std::string scheme = json_opt_string(
        spec, "prepend_scheme", at, json_opt_bool(spec, "add_prefix_space", at, true) ? "always" : "never");
    if (scheme == "always")
      ms.prepend = MetaspaceInfo::Prepend::Always;
    else if (scheme == "first")
      ms.prepend = MetaspaceInfo::Prepend::First;
    else if (scheme == "never")
      ms.prepend = MetaspaceInfo::Prepend::Never;
    else
      at.field("prepend_scheme")
          .fail("unknown prepend_scheme \"" + scheme + "\"", "one of always, first, never");
    split_before = true;
    if (!json_opt_bool(spec, "split", at, true)) return nullptr;
    json literal = {{"String", ms.replacement}};
    return std::make_unique<PatternSplit>(Pattern(literal, at), Behavior::MergedWithNext, false);
  }
  if (type == "Digits") {
    split_before = true;
    bool individual = json_opt_bool(spec, "individual_digits", at, false);
    return std::make_unique<PatternSplit>(Pattern(std::make_unique<Regex>("\\p{N}", at.where())),
                                          individual ? Behavior::Isolated : Behavior::Contiguous, false);
  }
  if (type == "Whitespace") {
    split_before = true;
    return std::make_unique<RegexKeep>(std::make_unique<Regex>("\\w+|[^\\w\\s]+", at.where()));
  }
  if (type == "WhitespaceSplit") {
    split_before = true;
    return std::make_unique<RegexKeep>(std::make_unique<Regex>("\\S+", at.where()));
  }
  if (type == "Sequence") {
    const json& list = json_array(json_require(spec, "pretokenizers", at), at.field("pretokenizers"));
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = build(list[i], at.field("pretokenizers").index(i), info, split_before);
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<Sequence>(std::move(parts));
  }
  at.field("type").fail(
      "unsupported pre-tokenizer type \"" + type + "\"",
      "supported: Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit, Sequence");
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec, const JsonAt& at, PreTokenizerInfo& info) {
  bool split_before = false;
  return build(spec, at, info, split_before);
}

}  // namespace ft::text
