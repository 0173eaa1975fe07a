// Chat templates: the Jinja template of tokenizer_config.json ("chat_template"), parsed once and
// rendered the way transformers' apply_chat_template does (trim_blocks, lstrip_blocks, loop controls,
// tojson = json.dumps(ensure_ascii=False), raise_exception, strftime_now, {% generation %} spans).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// Where this engine knowingly differs from Python Jinja2 (everything else is checked byte-for-byte
// against it by tests/conformance/chat): integers are 64-bit (overflow is an error, Python grows them);
// printf-style `"%s" % x`, recursive for loops, call blocks and include/import/extends are rejected
// with an error; str.upper()/title() apply Unicode's multi-character mappings except the Greek
// iota-subscript ones; runaway templates stop at the limits in ChatRenderOptions.
namespace ft::text {

// Bytes [begin, end) of the rendered text produced inside one {% generation %} block: the assistant
// tokens that an assistant-only loss trains on. (transformers reports the same spans in characters.)
struct GenerationSpan {
  size_t begin = 0;
  size_t end = 0;
};

struct RenderResult {
  std::string text;
  std::vector<GenerationSpan> generation_spans;
};

struct ChatRenderOptions {
  // strftime_now() uses this time instead of the clock (tests, reproducible data pipelines).
  std::optional<std::time_t> now;
  // As apply_chat_template does, define `tools` and `documents` as None and `add_generation_prompt`
  // as False when the context does not give them (templates test `tools is not none`).
  bool transformers_defaults = true;
  // Limits that stop a runaway template with an error naming its line (real templates stay far below).
  size_t max_output_bytes = size_t{256} << 20;
  size_t max_steps = 100'000'000;  // statements executed + loop iterations
  size_t max_range = 10'000'000;   // elements one range() or repetition may produce
};

class ChatTemplate {
 public:
  // Parses `source`. `name` appears in messages ("chat template 'tool_use' line 3: ..."); empty for the
  // default template. Throws ft::Error "chat template line N: ..." on syntax errors, unknown tags,
  // filters or tests.
  explicit ChatTemplate(std::string source, std::string name = {});

  // Renders with the variables of `context`, a JSON object: messages, tools, add_generation_prompt,
  // bos_token, eos_token and any extra kwargs. ordered_json keeps key order, which `tojson` preserves
  // (a plain nlohmann::json sorts keys). Throws ft::Error naming the template line on runtime errors
  // (undefined values used, type errors, raise_exception).
  RenderResult render(const nlohmann::ordered_json& context, const ChatRenderOptions& opts = {}) const;
  RenderResult render(const nlohmann::json& context, const ChatRenderOptions& opts = {}) const;

  const std::string& source() const;
  // True when the template marks assistant output with {% generation %} (needed for assistant masks).
  bool has_generation_blocks() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace ft::text
