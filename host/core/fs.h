// Durable file-system helpers: every file fthost produces is written to a temporary path, fsynced,
// and renamed into place, so a crash leaves either the old file or the new one, never half of one.
#pragma once

#include <string>
#include <string_view>

namespace ft::fs {

// Writes `data` to `path` atomically (temp file in the same folder + fsync + rename + fsync of the folder).
void write_file_atomic(const std::string& path, std::string_view data);
// Reads a whole file; throws ft::Error naming the path when it cannot.
std::string read_file(const std::string& path);
// fsync a file or folder by path.
void fsync_path(const std::string& path);
// A unique sibling path for temporary output: "<path>.tmp.<pid>.<n>".
std::string temp_sibling(const std::string& path);
// Renames `from` to `to` (both in one file system) and fsyncs the parent folder of `to`.
void rename_durable(const std::string& from, const std::string& to);
// mkdir -p; throws ft::Error on failure.
void make_dirs(const std::string& path);
bool exists(const std::string& path);
// rm -rf (no error if missing).
void remove_all(const std::string& path);

}  // namespace ft::fs
