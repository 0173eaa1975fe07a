// Benchmark helper for tests/bench/model_load.sh. `write FILE BYTES` writes an fp32 safetensors file of
// at least BYTES laid out like a transformer checkpoint (`tiny FILE`: one 4-element tensor); `load FILE`
// loads it the way model loading does (every tensor read once: summed) and prints seconds, peak RSS
// and the checksum.
#include <sys/resource.h>

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"

namespace {

int write_model(const std::string& file, uint64_t bytes) {
  // hidden 2048, intermediate 5632: ~ a 1B-parameter layer stack; seven matrices per layer.
  const int64_t h = 2048, inter = 5632;
  std::vector<std::pair<std::string, at::Tensor>> ts;
  uint64_t total = 0;
  ts.emplace_back("model.embed_tokens.weight", torch::randn({32000, h}));
  total += 32000 * h * 4;
  for (int l = 0; total < bytes; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    for (auto [name, rows, cols] : {std::tuple{"self_attn.q_proj.weight", h, h},
                                    {"self_attn.k_proj.weight", h / 4, h},
                                    {"self_attn.v_proj.weight", h / 4, h},
                                    {"self_attn.o_proj.weight", h, h},
                                    {"mlp.gate_proj.weight", inter, h},
                                    {"mlp.up_proj.weight", inter, h},
                                    {"mlp.down_proj.weight", h, inter}}) {
      ts.emplace_back(p + name, torch::randn({rows, cols}) * 0.02);
      total += static_cast<uint64_t>(rows * cols * 4);
    }
    ts.emplace_back(p + "input_layernorm.weight", torch::ones({h}));
    ts.emplace_back(p + "post_attention_layernorm.weight", torch::ones({h}));
  }
  ft::io::write_safetensors_file(file, ts, {{"format", "pt"}});
  std::printf("wrote %zu tensors, %.3f GB\n", ts.size(), total / 1e9);
  return 0;
}

int load_model(const std::string& file) {
  auto t0 = std::chrono::steady_clock::now();
  auto tensors = ft::io::load_safetensors(file);
  double sum = 0;
  for (auto& [name, t] : tensors) sum += t.sum().item<double>();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  // Machine-readable line for the bench script: seconds, peak RSS in KiB, tensors, checksum.
  std::printf("load_s=%.4f peak_rss_kib=%ld tensors=%zu checksum=%.6g\n", secs, ru.ru_maxrss, tensors.size(),
              sum);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "write" && argc == 4) return write_model(argv[2], std::strtoull(argv[3], nullptr, 10));
    if (cmd == "load" && argc == 3) return load_model(argv[2]);
    if (cmd == "tiny" && argc == 3) {  // one small tensor: measures the fixed cost of the process
      ft::io::write_safetensors_file(argv[2], {{"x", torch::ones({4})}}, {});
      return 0;
    }
    std::fprintf(stderr, "usage: %s write FILE BYTES | tiny FILE | load FILE\n", argv[0]);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
