// Helpers shared by the chat-template tests: render a template with a JSON context (key order kept),
// or capture the ft::Error message a template raises.
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "text/chat_template.h"

namespace chat_test {

// A fixed clock for strftime_now: 2024-11-20 11:14:56 UTC.
constexpr std::time_t kNow = 1732101296;

inline ft::text::RenderResult render_full(const std::string& tpl, const std::string& ctx_json = "{}") {
  ft::text::ChatRenderOptions opts;
  opts.now = kNow;
  return ft::text::ChatTemplate(tpl).render(nlohmann::ordered_json::parse(ctx_json), opts);
}

inline std::string render(const std::string& tpl, const std::string& ctx_json = "{}") {
  return render_full(tpl, ctx_json).text;
}

// The message of the ft::Error that parsing or rendering raises, or "<no error>".
inline std::string error_of(const std::string& tpl, const std::string& ctx_json = "{}") {
  try {
    render(tpl, ctx_json);
  } catch (const ft::Error& e) {
    return e.what();
  }
  return "<no error>";
}

inline std::string read_fixture(const std::string& name) {
  std::ifstream in(std::string(FT_TEST_DATA) + "/chat/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture tests/data/chat/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace chat_test
