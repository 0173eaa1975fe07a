// Helpers shared by the io tests: temp folders, raw safetensors byte builders, error-text checks.
#pragma once

#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"

namespace ft::io::test {

// A fresh folder under the system temp dir, removed when the object goes away.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path() /
           ("ft_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// 8-byte little-endian length + header text + `data_bytes` zero bytes.
inline std::string st_bytes(const std::string& header, size_t data_bytes, uint64_t claimed_len = UINT64_MAX) {
  uint64_t n = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Runs `fn`, requires an ft::Error whose full text (message + hint) contains every needle.
template <class Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
  } catch (const ft::Error& e) {
    std::string what = e.what();
    for (const auto& n : needles)
      BOOST_CHECK_MESSAGE(what.find(n) != std::string::npos, "'" << n << "' not in: " << what);
    return;
  }
  BOOST_ERROR("expected an ft::Error");
}

}  // namespace ft::io::test
