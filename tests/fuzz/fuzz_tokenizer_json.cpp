// libFuzzer target for the tokenizer.json loader: any input must either load or raise ft::Error;
// a loaded tokenizer must encode and decode without crashing (ASan watches memory). Any other
// exception escaping is a bug and aborts the run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "text/tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    auto tok = ft::text::parse_tokenizer_json(input, "fuzz/tokenizer.json");
    static const char* samples[] = {"Hello world's 123 <|end|>", "  \n\n\t x", "e\xCC\x81\xFF\xC3", ""};
    for (const char* s : samples) {
      auto e = tok->encode(s, true);
      if (e.ids.size() != e.offsets.size()) std::abort();
      tok->decode(e.ids, false);
      tok->decode(e.ids, true);
    }
    // The input itself as text: exercises the normalizer/pre-tokenizer on arbitrary bytes.
    auto e = tok->encode(input.substr(0, 512), false);
    tok->decode(e.ids, false);
    tok->decode({-1, 0, 1, 1 << 30}, false);
  } catch (const ft::Error&) {
    // Malformed input must end here, with a message.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "escaped exception (not ft::Error): %s\n", e.what());
    std::abort();
  }
  return 0;
}
