// The ByteLevel alphabet tables, built once.
#include "text/byte_level.h"

#include "text/utf8.h"

namespace ft::text::byte_level {
namespace {

struct Tables {
  std::array<char32_t, 256> chars{};
  Tables() {
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      bool self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      chars[b] = self ? static_cast<char32_t>(b) : next++;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t char_of(uint8_t b) {
  return tables().chars[b];
}

int byte_of(char32_t cp) {
  if (cp < 0x100) {
    bool self = (cp >= '!' && cp <= '~') || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE);
    return self ? static_cast<int>(cp) : -1;
  }
  if (cp < 0x100 + 68) {
    // Non-self bytes in ascending order: 0..32, 127..160, 173.
    int n = static_cast<int>(cp - 0x100);
    if (n <= 32) return n;
    if (n <= 32 + 34) return 127 + (n - 33);
    return 173;
  }
  return -1;
}

bool to_bytes(std::string_view token, std::string& out) {
  out.clear();
  char32_t cp = 0;
  for (size_t i = 0; i < token.size();) {
    size_t len = utf8::decode(token, i, &cp);
    if (len == 0) return false;
    int b = byte_of(cp);
    if (b < 0) return false;
    out.push_back(static_cast<char>(b));
    i += len;
  }
  return true;
}

std::string to_chars(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append(out, char_of(static_cast<uint8_t>(c)));
  return out;
}

}  // namespace ft::text::byte_level
