// Disk space for downloads: the up-front check (free space vs the bytes a download still needs, as
// announced by X-Linked-Size / the file list), reserving a blob's space with fallocate, and the one
// "disk full" message every ENOSPC path raises.
#pragma once

#include <cstdint>
#include <string>

namespace ft::hub {

// Bytes free for an unprivileged writer on the file system holding `dir` (statvfs f_bavail);
// UINT64_MAX when it cannot be asked.
uint64_t free_bytes(const std::string& dir);
// Bytes a file occupies on disk (st_blocks), 0 when absent: what a partial download already holds.
uint64_t allocated_bytes(const std::string& path);
// Throws the disk-full ft::Error when fewer than `needed` bytes are free in `dir`. `what` names the
// download ("'org/name/model.safetensors'" or "3 files of 'org/name'").
void require_free_space(const std::string& dir, uint64_t needed, const std::string& what);
// Reserves [0, size) of `fd` (fallocate, file length unchanged) so that the download cannot run out of
// space halfway. Throws the disk-full ft::Error on ENOSPC/EDQUOT; file systems without fallocate are
// left to the write path's own check.
void reserve_space(int fd, uint64_t size, const std::string& dir, uint64_t needed, const std::string& what);
// The disk-full ft::Error: what was being written, how much is still needed, how much is free.
[[noreturn]] void throw_disk_full(const std::string& doing, const std::string& dir, uint64_t needed);

}  // namespace ft::hub
