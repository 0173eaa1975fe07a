// ft::Error: the one exception type engine code throws for user-facing failures. It carries what was
// expected, what was found, where (file/line/row/tensor) inside the message, and an optional hint that
// is printed on its own line. Bindings turn it into a Lua error at the caller's line.
#pragma once

#include <stdexcept>
#include <string>

namespace ft {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string hint = {})
      : std::runtime_error(compose(message, hint)), message_(message), hint_(std::move(hint)) {}

  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }

 private:
  static std::string compose(const std::string& m, const std::string& h) {
    return h.empty() ? m : m + "\nhint: " + h;
  }
  std::string message_;
  std::string hint_;
};

// Raised at a check point when the user pressed Ctrl-C (see interrupt.h).
class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

}  // namespace ft
