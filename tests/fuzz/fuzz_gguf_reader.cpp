// libFuzzer target for the GGUF reader: any input must parse or raise ft::Error; a parsed file's
// tensors must lie inside the input at aligned offsets. Anything else aborts the run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ft::io::GgufFile g = ft::io::parse_gguf(reinterpret_cast<const char*>(data), size, "fuzz.gguf");
    if (g.data_offset > size || g.data_offset % g.alignment != 0) std::abort();
    for (const auto& t : g.tensors)
      if (t.offset % g.alignment != 0 || t.offset > size - g.data_offset) std::abort();
  } catch (const ft::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "escaped exception (not ft::Error): %s\n", e.what());
    std::abort();
  }
  return 0;
}
