// Decoders. Pieces hold raw bytes; the caller joins them and repairs invalid UTF-8 with U+FFFD once
// at the end, which gives the same text as decoding each run between added tokens separately.
#include "text/decoder.h"

#include "text/byte_level.h"
#include "text/pattern.h"

namespace ft::text {
namespace {

class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<DecodePiece>& pieces) const override {
    std::string bytes;
    for (auto& p : pieces) {
      // A token with characters outside the alphabet keeps its own bytes (HF ByteLevel::decode_chain).
      if (!p.added && byte_level::to_bytes(p.text, bytes)) p.text.swap(bytes);
    }
  }
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// <0xAB> tokens become the byte 0xAB.
class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<DecodePiece>& pieces) const override {
    for (auto& p : pieces) {
      const std::string& t = p.text;
      if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') continue;
      int hi = hex_value(t[3]), lo = hex_value(t[4]);
      if (hi >= 0 && lo >= 0) p.text = std::string(1, static_cast<char>(hi * 16 + lo));
    }
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<DecodePiece>& pieces) const override {
    std::vector<DecodePiece> out;
    for (auto& p : pieces) {
      if (out.empty())
        out.push_back({std::move(p.text), false});
      else
        out.back().text += p.text;
    }
    pieces.swap(out);
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<DecodePiece>& pieces) const override {
    std::vector<std::pair<size_t, size_t>> hits;
    for (auto& p : pieces) {
      hits.clear();
      pattern_.find_all(p.text, hits);
      if (hits.empty()) continue;
      std::string out;
      size_t at = 0;
      for (auto [b, e] : hits) {
        out.append(p.text, at, b - at);
        out += content_;
        at = e;
      }
      out.append(p.text, at, std::string::npos);
      p.text.swap(out);
    }
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// Removes up to `start` leading and `stop` trailing copies of `content` from each token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<DecodePiece>& pieces) const override {
    if (content_.empty()) return;
    for (auto& p : pieces) {
      size_t b = 0, e = p.text.size();
      for (size_t k = 0;
           k < start_ && e - b >= content_.size() && p.text.compare(b, content_.size(), content_) == 0; ++k)
        b += content_.size();
      for (size_t k = 0; k < stop_ && e - b >= content_.size() &&
                         p.text.compare(e - content_.size(), content_.size(), content_) == 0;
           ++k)
        e -= content_.size();
      p.text = p.text.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

// "▁" back to spaces; the first token loses its leading space when a prefix was added.
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<DecodePiece>& pieces) const override {
    for (size_t i = 0; i < pieces.size(); ++i) {
      auto& p = pieces[i];
      std::string out;
      for (size_t at = 0; at < p.text.size();) {
        if (!replacement_.empty() && p.text.compare(at, replacement_.size(), replacement_) == 0) {
          out.push_back(' ');
          at += replacement_.size();
        } else {
          out.push_back(p.text[at++]);
        }
      }
      if (i == 0 && strip_first_ && !out.empty() && out[0] == ' ') out.erase(0, 1);
      p.text.swap(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<DecodePiece>& pieces) const override {
    for (auto& d : parts_) d->decode_chain(pieces);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

size_t json_count(const json& spec, const char* key, const JsonAt& at) {
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return 0;
  int64_t v = json_int(*it, at.field(key));
  if (v < 0) at.field(key).fail("expected a count >= 0, found " + std::to_string(v));
  return static_cast<size_t>(v);
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& spec, const JsonAt& at) {
  if (spec.is_null()) return nullptr;
  std::string type = json_type(spec, at);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip")
    return std::make_unique<StripDecoder>(json_opt_string(spec, "content", at, " "),
                                          json_count(spec, "start", at), json_count(spec, "stop", at));
  if (type == "Replace")
    return std::make_unique<ReplaceDecoder>(
        Pattern(json_require(spec, "pattern", at), at.field("pattern")),
        json_string(json_require(spec, "content", at), at.field("content")));
  if (type == "Metaspace") {
    std::string scheme = json_opt_string(spec, "prepend_scheme", at, "always");
    bool strip_first = scheme != "never" && json_opt_bool(spec, "add_prefix_space", at, true);
    return std::make_unique<MetaspaceDecoder>(json_opt_string(spec, "replacement", at, "\xE2\x96\x81"),
                                              strip_first);
  }
  if (type == "Sequence") {
    const json& list = json_array(json_require(spec, "decoders", at), at.field("decoders"));
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto d = make_decoder(list[i], at.field("decoders").index(i));
      if (d) parts.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  at.field("type").fail("unsupported decoder type \"" + type + "\"",
                        "supported: ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace, Sequence");
}

}  // namespace ft::text
