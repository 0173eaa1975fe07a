// libFuzzer target for the chat-template engine: the input is a template source, optionally followed
// by a NUL byte and a JSON render context. Parsing and rendering must either succeed or raise
// ft::Error; anything else escaping (or a crash, leak or hang under ASan/UBSan) is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/chat_template.h"

namespace {

// A conversation touching the shapes real templates look at: system prompt, tool definitions,
// assistant tool calls, consecutive tool results, unicode and a trailing generation prompt.
const char* kDefaultContext = R"({
  "messages": [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Weather in Paris? ünïcödé 🌍"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call_123456789", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2, "metric": true}}}]},
    {"role": "tool", "tool_call_id": "call_123456789", "content": "{\"temp\": 21.5}"},
    {"role": "tool", "tool_call_id": "call_123456789", "content": "second"},
    {"role": "assistant", "content": "It is 21.5°C."},
    {"role": "user", "content": [{"type": "text", "text": "thanks"}, {"type": "image"}]}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
  "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"
})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string source = input.substr(0, nul);
  static const nlohmann::ordered_json fallback = nlohmann::ordered_json::parse(kDefaultContext);
  nlohmann::ordered_json context = fallback;
  if (nul != std::string::npos) {
    auto parsed = nlohmann::ordered_json::parse(input.substr(nul + 1), nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) context = std::move(parsed);
  }
  ft::text::ChatRenderOptions opts;
  opts.now = 1732101296;
  // Small budgets keep each run fast; the limits themselves are part of what is tested.
  opts.max_steps = 20000;
  opts.max_range = 20000;
  opts.max_output_bytes = 1 << 20;
  try {
    ft::text::ChatTemplate tpl(source);
    const auto r = tpl.render(context, opts);
    for (const auto& s : r.generation_spans)
      if (s.begin > s.end || s.end > r.text.size()) std::abort();
  } catch (const ft::Error&) {
    // Malformed templates and failing renders must end here, with a message.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "escaped exception (not ft::Error): %s\n", e.what());
    std::abort();
  }
  return 0;
}
