// The SentencePiece shim: libsentencepiece behind a C ABI (see spm_shim.h for why). Built as a
// loadable module next to fthost; nothing here throws across the C boundary.
#include "spm_shim.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <string>
#include <vector>

struct ft_spm {
  sentencepiece::SentencePieceProcessor sp;
};

extern "C" {

__attribute__((visibility("default"))) ft_spm* ft_spm_load(const char* path, char* err, size_t err_cap) {
  auto* m = new ft_spm;
  std::string msg;
  try {
    auto status = m->sp.Load(path);
    if (status.ok()) return m;
    msg = status.ToString();
  } catch (const std::exception& e) {
    msg = e.what();
  }
  delete m;
  if (err_cap) {
    std::strncpy(err, msg.c_str(), err_cap - 1);
    err[err_cap - 1] = 0;
  }
  return nullptr;
}

__attribute__((visibility("default"))) void ft_spm_free(ft_spm* m) {
  delete m;
}

__attribute__((visibility("default"))) int ft_spm_piece_size(const ft_spm* m) {
  return m->sp.GetPieceSize();
}

__attribute__((visibility("default"))) const char* ft_spm_id_to_piece(const ft_spm* m, int id, size_t* len) {
  if (id < 0 || id >= m->sp.GetPieceSize()) return nullptr;
  const std::string& p = m->sp.IdToPiece(id);
  *len = p.size();
  return p.data();
}

__attribute__((visibility("default"))) int ft_spm_piece_to_id(const ft_spm* m, const char* piece,
                                                              size_t len) {
  std::string p(piece, len);
  int id = m->sp.PieceToId(p);
  if (id == m->sp.unk_id() && m->sp.IdToPiece(id) != p) return -1;
  return id;
}

__attribute__((visibility("default"))) int ft_spm_piece_flags(const ft_spm* m, int id) {
  if (id < 0 || id >= m->sp.GetPieceSize()) return 0;
  return (m->sp.IsControl(id) ? FT_SPM_CONTROL : 0) | (m->sp.IsUnknown(id) ? FT_SPM_UNKNOWN : 0) |
         (m->sp.IsByte(id) ? FT_SPM_BYTE : 0);
}

__attribute__((visibility("default"))) void ft_spm_special_ids(const ft_spm* m, int* bos, int* eos, int* pad,
                                                               int* unk) {
  *bos = m->sp.bos_id(), *eos = m->sp.eos_id(), *pad = m->sp.pad_id(), *unk = m->sp.unk_id();
}

__attribute__((visibility("default"))) int ft_spm_encode(const ft_spm* m, const char* text, size_t len,
                                                         int32_t* ids, uint32_t* begins, uint32_t* ends,
                                                         int cap) {
  try {
    auto spt = m->sp.EncodeAsImmutableProto(std::string(text, len));
    int n = static_cast<int>(spt.pieces_size());
    for (int i = 0; i < n && i < cap; ++i) {
      auto p = spt.pieces(i);
      ids[i] = static_cast<int32_t>(p.id());
      begins[i] = p.begin();
      ends[i] = p.end();
    }
    return n;
  } catch (...) {
    return -1;
  }
}

__attribute__((visibility("default"))) size_t ft_spm_decode(const ft_spm* m, const int32_t* ids, int n,
                                                            char* out, size_t cap) {
  try {
    std::string s = m->sp.DecodeIds(std::vector<int>(ids, ids + n));
    std::memcpy(out, s.data(), std::min(cap, s.size()));
    return s.size();
  } catch (...) {
    return 0;
  }
}
}
