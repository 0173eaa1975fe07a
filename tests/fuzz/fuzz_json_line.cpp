// Differential libFuzzer target for the JSONL fast path: whenever parse_json_fast accepts an input,
// nlohmann::json::parse must accept it too and give the same value, with the same number types (the
// dumps are equal). When the fast path declines, the reader falls back to nlohmann, so any answer is fine.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/json_line.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json fast;
  if (!ft::data::parse_json_fast(text, fast)) return 0;
  nlohmann::json ref = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (ref.is_discarded()) std::abort();  // the fast path accepted what nlohmann rejects
  if (fast != ref || fast.dump() != ref.dump()) std::abort();
  return 0;
}
