// tokenizer.json "model" of type BPE: vocab, ranked merges (both JSON forms), ignore_merges,
// byte_fallback, unk/fuse_unk. In byte-level files the model works directly on raw bytes: vocab
// entries are translated out of the ByteLevel alphabet once at load, so encoding never builds the
// mapped strings.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/json_fields.h"
#include "text/tokenizer.h"

namespace ft::text {

class BpeModel {
 public:
  BpeModel(const json& spec, const JsonAt& at, bool byte_level);

  // Encodes one pre-token: appends token ids and the number of input bytes each covers.
  void encode(std::string_view word, std::vector<TokenId>& ids, std::vector<uint32_t>& lens) const;

  // Lookups use the vocab's own spelling (ByteLevel characters in byte-level files).
  std::optional<TokenId> token_to_id(std::string_view token) const;
  const std::string* id_to_token(TokenId id) const;
  TokenId max_id() const { return static_cast<TokenId>(id_to_token_.size()) - 1; }
  bool byte_fallback() const { return byte_fallback_; }

 private:
  struct Merge {
    int32_t rank;
    TokenId merged;
  };
  struct Piece {
    TokenId id;
    uint32_t len;
  };
  static uint64_t pair_key(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  void merge_word(std::string_view word, std::vector<Piece>& out) const;
  void initial_symbols(std::string_view word, std::vector<Piece>& out) const;
  void emit_unknown(std::string_view unit, std::vector<Piece>& out) const;

  bool byte_level_;
  bool ignore_merges_ = false;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  std::optional<TokenId> unk_id_;
  std::vector<std::string> id_to_token_;                    // vocab spelling, by id ("" for holes)
  std::unordered_map<std::string_view, TokenId> by_token_;  // vocab spelling -> id
  std::vector<std::string> unit_storage_;                   // raw-byte spellings (byte-level only)
  std::unordered_map<std::string_view, TokenId> by_units_;  // what encode() looks words up by
  std::array<TokenId, 256> byte_ids_;                       // single bytes (byte-level) or <0xXX>
  std::unordered_map<uint64_t, Merge> merges_;

  // Word cache: most text repeats a small set of words. Direct-mapped slots (a word's hash picks its
  // shard and slot; a newer word overwrites an older one), sharded so threads rarely contend.
  static constexpr size_t kCacheShards = 64, kCacheSlots = 2048, kCacheMaxWord = 128;
  struct CacheSlot {
    uint64_t hash = 0;
    std::string word;
    std::vector<Piece> pieces;
  };
  struct CacheShard {
    std::mutex mu;
    std::vector<CacheSlot> slots;
  };
  mutable std::unique_ptr<CacheShard[]> cache_;
};

}  // namespace ft::text
