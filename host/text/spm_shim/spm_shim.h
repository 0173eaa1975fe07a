// C ABI of the SentencePiece shim (libft_spm_shim.so). libsentencepiece as Debian builds it exports
// its own bundled copy of protobuf-lite, which collides with LibTorch's libprotobuf when both sit in
// one process (fthost crashes during static initialisation). So fthost never links it: the shim is
// loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND), keeping sentencepiece's protobuf symbols private.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

struct ft_spm;
// Piece flags returned by ft_spm_piece_flags.
enum { FT_SPM_CONTROL = 1, FT_SPM_UNKNOWN = 2, FT_SPM_BYTE = 4 };

// Loads a model file; on failure returns null and writes a message into err.
ft_spm* ft_spm_load(const char* path, char* err, size_t err_cap);
void ft_spm_free(ft_spm* m);
int ft_spm_piece_size(const ft_spm* m);
// The piece text of id (not NUL-terminated; *len receives its length). Null for a bad id.
const char* ft_spm_id_to_piece(const ft_spm* m, int id, size_t* len);
// Id of a piece, or -1 when the piece is not in the model.
int ft_spm_piece_to_id(const ft_spm* m, const char* piece, size_t len);
int ft_spm_piece_flags(const ft_spm* m, int id);
// bos, eos, pad, unk ids (-1 when the model has none).
void ft_spm_special_ids(const ft_spm* m, int* bos, int* eos, int* pad, int* unk);
// Encodes text; writes up to cap ids with byte offsets [begin, end) and returns the total count
// (call again with a larger buffer when it exceeds cap), or -1 on error.
int ft_spm_encode(const ft_spm* m, const char* text, size_t len, int32_t* ids, uint32_t* begins,
                  uint32_t* ends, int cap);
// Decodes ids; writes up to cap bytes and returns the total length.
size_t ft_spm_decode(const ft_spm* m, const int32_t* ids, int n, char* out, size_t cap);
}
