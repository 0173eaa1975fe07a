// libFuzzer target for the safetensors header parser: any input must parse or raise ft::Error. A parsed
// header must satisfy the invariants the loader relies on (offsets tile the data section, sizes match
// dtypes), and re-serialising it must parse back to the same tensors. Anything else aborts the run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  try {
    ft::io::SafetensorsHeader h = ft::io::parse_safetensors_header(p, size, "fuzz.safetensors");
    uint64_t expect = 0;
    for (const auto& t : h.tensors) {
      if (t.begin != expect || t.end < t.begin) std::abort();
      expect = t.end;
    }
    if (h.data_offset + expect != size || h.data_offset < 8) std::abort();
    // Round trip through the writer's serialiser.
    std::string header = ft::io::serialize_safetensors_header(h.tensors, h.metadata);
    if (header.size() % 8 != 0) std::abort();
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    file += header;
    file.append(static_cast<size_t>(expect), '\0');
    ft::io::SafetensorsHeader again =
        ft::io::parse_safetensors_header(file.data(), file.size(), "fuzz-again");
    if (again.tensors.size() != h.tensors.size() || again.metadata != h.metadata) std::abort();
    for (size_t i = 0; i < h.tensors.size(); ++i) {
      const auto &a = h.tensors[i], &b = again.tensors[i];
      if (a.dtype != b.dtype || a.shape != b.shape || a.begin != b.begin || a.end != b.end) std::abort();
      // Names may reorder only among zero-size tensors sharing an offset.
      if (a.name != b.name && a.begin != a.end) std::abort();
    }
  } catch (const ft::Error&) {
    // Malformed input must end here, with a message.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "escaped exception (not ft::Error): %s\n", e.what());
    std::abort();
  }
  return 0;
}
