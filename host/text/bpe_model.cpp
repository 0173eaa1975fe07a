// BPE merging as HF tokenizers does it: start from single units, repeatedly merge the adjacent pair
// with the lowest rank (leftmost first on ties) until no ranked pair remains. A heap over candidate
// pairs keeps long inputs (runs of thousands of spaces) O(n log n).
#include "text/bpe_model.h"

#include <queue>

#include "text/byte_level.h"
#include "text/utf8.h"

namespace ft::text {
namespace {

std::string hex_byte_token(uint8_t b) {
  static const char* digits = "0123456789ABCDEF";
  return std::string("<0x") + digits[b >> 4] + digits[b & 15] + ">";
}

}  // namespace

BpeModel::BpeModel(const json& spec, const JsonAt& at, bool byte_level)
    : byte_level_(byte_level), cache_(new CacheShard[kCacheShards]) {
  for (size_t i = 0; i < kCacheShards; ++i) cache_[i].slots.resize(kCacheSlots);
  byte_ids_.fill(-1);
  ignore_merges_ = json_opt_bool(spec, "ignore_merges", at, false);
  byte_fallback_ = json_opt_bool(spec, "byte_fallback", at, false);
  fuse_unk_ = json_opt_bool(spec, "fuse_unk", at, false);
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!json_opt_string(spec, key, at, "").empty())
      at.field(key).fail(
          "a non-empty value is not supported",
          "fthost reads byte-level BPE (GPT-2, Qwen2, Llama 3) and SentencePiece-style BPE files");
  }

  // ---- vocab ----
  JsonAt vat = at.field("vocab");
  const json& vocab = json_require(spec, "vocab", at);
  if (!vocab.is_object()) vat.fail(std::string("expected an object {token: id}, found ") + json_kind(vocab));
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    JsonAt tat = vat.field("\"" + it.key() + "\"");
    int64_t id = json_int(it.value(), tat);
    // Vocab ids are dense (0..n-1 in every HF file); a bound keeps a bad id from allocating gigabytes.
    int64_t limit = static_cast<int64_t>(vocab.size()) * 2 + 1024;
    if (id < 0 || id >= limit)
      tat.fail("token id " + std::to_string(id) + " is out of range for a vocab of " +
                   std::to_string(vocab.size()) + " entries",
               "vocab ids run from 0 to the vocab size - 1");
    if (static_cast<size_t>(id) >= id_to_token_.size()) id_to_token_.resize(static_cast<size_t>(id) + 1);
    if (!id_to_token_[static_cast<size_t>(id)].empty())
      tat.fail(
          "id " + std::to_string(id) + " is also used by \"" + id_to_token_[static_cast<size_t>(id)] + "\"",
          "every vocab id must be unique");
    id_to_token_[static_cast<size_t>(id)] = it.key();
  }
  if (id_to_token_.empty()) vat.fail("the vocab is empty");
  by_token_.reserve(id_to_token_.size());
  for (size_t id = 0; id < id_to_token_.size(); ++id)
    if (!id_to_token_[id].empty()) by_token_.emplace(id_to_token_[id], static_cast<TokenId>(id));

  if (byte_level_) {
    unit_storage_.resize(id_to_token_.size());
    by_units_.reserve(id_to_token_.size());
    for (size_t id = 0; id < id_to_token_.size(); ++id) {
      // Tokens outside the alphabet (rare added entries) cannot come out of byte-level input.
      if (id_to_token_[id].empty() || !byte_level::to_bytes(id_to_token_[id], unit_storage_[id])) continue;
      by_units_.emplace(unit_storage_[id], static_cast<TokenId>(id));
      if (unit_storage_[id].size() == 1)
        byte_ids_[static_cast<uint8_t>(unit_storage_[id][0])] = static_cast<TokenId>(id);
    }
  } else {
    by_units_ = by_token_;
  }
  if (byte_fallback_ || !byte_level_) {
    for (int b = 0; b < 256; ++b) {
      auto it = by_token_.find(hex_byte_token(static_cast<uint8_t>(b)));
      if (!byte_level_ && it != by_token_.end()) byte_ids_[b] = it->second;
    }
  }

  std::string unk = json_opt_string(spec, "unk_token", at, "");
  if (!unk.empty()) {
    auto it = by_token_.find(unk);
    if (it == by_token_.end())
      at.field("unk_token")
          .fail("\"" + unk + "\" is not in the vocab", "add it to model.vocab or remove unk_token");
    unk_id_ = it->second;
  }

  // ---- merges: [["a","b"], ...] or legacy ["a b", ...]; the rank is the index ----
  JsonAt mat = at.field("merges");
  auto mit = spec.find("merges");
  if (mit == spec.end() || mit->is_null()) return;
  const json& merges = json_array(*mit, mat);
  merges_.reserve(merges.size());
  std::string left, right;
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    JsonAt iat = mat.index(i);
    if (m.is_string()) {
      const std::string& line = m.get_ref<const std::string&>();
      if (line.rfind("#version", 0) == 0) continue;
      size_t sp = line.find(' ');
      if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
        iat.fail("expected \"<left> <right>\" (two parts split by one space), found \"" + line + "\"");
      left = line.substr(0, sp), right = line.substr(sp + 1);
    } else if (m.is_array()) {
      if (m.size() != 2)
        iat.fail("expected a pair [left, right], found " + std::to_string(m.size()) + " elements");
      left = json_string(m[0], iat.index(0)), right = json_string(m[1], iat.index(1));
    } else {
      iat.fail(std::string("expected [\"left\", \"right\"] or \"left right\", found ") + json_kind(m));
    }
    auto a = by_token_.find(left), b = by_token_.find(right), ab = by_token_.find(left + right);
    for (auto* missing : {a == by_token_.end() ? &left : nullptr, b == by_token_.end() ? &right : nullptr}) {
      if (missing)
        iat.fail("merge part \"" + *missing + "\" is not in the vocab",
                 "every merge part must be a vocab token");
    }
    if (ab == by_token_.end())
      iat.fail("merge result \"" + left + right + "\" is not in the vocab",
               "every merge result must be a vocab token");
    // A repeated pair keeps its first (lowest) rank, as a rank map built by insertion would not.
    merges_.emplace(pair_key(a->second, b->second), Merge{static_cast<int32_t>(i), ab->second});
  }
}

std::optional<TokenId> BpeModel::token_to_id(std::string_view token) const {
  auto it = by_token_.find(token);
  if (it == by_token_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() ||
      id_to_token_[static_cast<size_t>(id)].empty())
    return nullptr;
  return &id_to_token_[static_cast<size_t>(id)];
}

void BpeModel::emit_unknown(std::string_view unit, std::vector<Piece>& out) const {
  if (byte_fallback_) {
    bool all = true;
    for (char c : unit) all &= byte_ids_[static_cast<uint8_t>(c)] >= 0;
    if (all) {
      for (char c : unit) out.push_back({byte_ids_[static_cast<uint8_t>(c)], 1});
      return;
    }
  }
  if (!unk_id_) return;  // no unk token: the unit produces no id (as transformers.js does)
  if (fuse_unk_ && !out.empty() && out.back().id == *unk_id_) {
    out.back().len += static_cast<uint32_t>(unit.size());
    return;
  }
  out.push_back({*unk_id_, static_cast<uint32_t>(unit.size())});
}

void BpeModel::initial_symbols(std::string_view word, std::vector<Piece>& out) const {
  if (byte_level_) {
    for (char c : word) {
      TokenId id = byte_ids_[static_cast<uint8_t>(c)];
      if (id >= 0)
        out.push_back({id, 1});
      else
        emit_unknown(std::string_view(&c, 1), out);
    }
    return;
  }
  char32_t cp = 0;
  for (size_t i = 0; i < word.size();) {
    size_t len = std::max<size_t>(1, utf8::decode(word, i, &cp));
    std::string_view unit = word.substr(i, len);
    auto it = by_units_.find(unit);
    if (it != by_units_.end())
      out.push_back({it->second, static_cast<uint32_t>(len)});
    else
      emit_unknown(unit, out);
    i += len;
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<Piece>& out) const {
  if (ignore_merges_) {
    auto it = by_units_.find(word);
    if (it != by_units_.end()) {
      out.push_back({it->second, static_cast<uint32_t>(word.size())});
      return;
    }
  }
  thread_local std::vector<Piece> sym;
  thread_local std::vector<int32_t> next, prev;
  sym.clear();
  initial_symbols(word, sym);
  size_t n = sym.size();
  if (n >= 2) {
    struct Cand {
      int32_t rank, pos;
      TokenId left, right, merged;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    next.resize(n), prev.resize(n);
    for (size_t i = 0; i < n; ++i) {
      next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
      prev[i] = static_cast<int32_t>(i) - 1;
    }
    auto consider = [&](int32_t pos) {
      if (pos < 0 || next[pos] < 0) return;
      auto it = merges_.find(pair_key(sym[pos].id, sym[next[pos]].id));
      if (it != merges_.end())
        heap.push({it->second.rank, pos, sym[pos].id, sym[next[pos]].id, it->second.merged});
    };
    for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int32_t>(i));
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      Piece& l = sym[c.pos];
      if (l.len == 0 || next[c.pos] < 0) continue;
      int32_t r = next[c.pos];
      if (l.id != c.left || sym[r].id != c.right) continue;  // stale candidate
      l.id = c.merged;
      l.len += sym[r].len;
      sym[r].len = 0;
      next[c.pos] = next[r];
      if (next[r] >= 0) prev[next[r]] = c.pos;
      consider(prev[c.pos]);
      consider(c.pos);
    }
  }
  for (size_t i = 0; i < n; ++i)
    if (sym[i].len) out.push_back(sym[i]);
}

void BpeModel::encode(std::string_view word, std::vector<TokenId>& ids, std::vector<uint32_t>& lens) const {
  if (word.empty()) return;
  auto emit = [&](const std::vector<Piece>& pieces) {
    for (const Piece& p : pieces) {
      ids.push_back(p.id);
      lens.push_back(p.len);
    }
  };
  thread_local std::vector<Piece> pieces;
  pieces.clear();
  if (word.size() > kCacheMaxWord) {
    merge_word(word, pieces);
    emit(pieces);
    return;
  }
  uint64_t hash = std::hash<std::string_view>()(word);
  CacheShard& shard = cache_[(hash >> 32) % kCacheShards];
  CacheSlot& slot = shard.slots[hash & (kCacheSlots - 1)];
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    if (slot.hash == hash && slot.word == word) {
      emit(slot.pieces);
      return;
    }
  }
  merge_word(word, pieces);
  emit(pieces);
  std::lock_guard<std::mutex> lock(shard.mu);
  slot.hash = hash;
  slot.word.assign(word);
  slot.pieces = pieces;
}

}  // namespace ft::text
