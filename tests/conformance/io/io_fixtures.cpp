// Writes the files tests/conformance/io/check.mjs hands to peers nobody here wrote: a single-file and a
// sharded safetensors checkpoint (via save_safetensors) and a GGUF file (via GgufWriter). Values follow
// formulas the checker recomputes on its own. Usage: io_fixtures <out dir>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "io/gguf.h"
#include "io/safetensors.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  std::string out = argv[1];
  try {
    std::vector<std::pair<std::string, at::Tensor>> single = {
        {"f32", torch::arange(12, at::kFloat).mul(0.5).reshape({3, 4})},
        {"f16", torch::arange(6, at::kFloat).mul(0.25).reshape({2, 3}).to(at::kHalf)},
        {"bf16", torch::arange(5, at::kFloat).sub(2).to(at::kBFloat16)},
        {"i64", torch::tensor({int64_t(-1), int64_t(1) << 40, int64_t(7)})},
        {"i32", torch::tensor({1, -2, 3, -4}, at::kInt).reshape({2, 2})},
        {"u8", torch::tensor({0, 128, 255}, at::kInt).to(at::kByte)},
        {"bool", torch::tensor({1, 0, 0, 1}, at::kInt).to(at::kBool)},
        {"f64", torch::tensor({0.1, -1e300}, at::kDouble)},
        {"scalar", torch::tensor(2.5f)},
    };
    ft::io::save_safetensors(out + "/single", single, {{"fthost", "conformance"}});

    std::vector<std::pair<std::string, at::Tensor>> layers;
    for (int i = 0; i < 4; ++i)
      layers.emplace_back("model.layers." + std::to_string(i) + ".w",
                          torch::arange(128, at::kFloat).add(i).reshape({16, 8}));
    layers.emplace_back("model.norm.weight", torch::ones({8}).to(at::kBFloat16));
    ft::io::save_safetensors(out + "/sharded", layers, {{"fthost", "conformance"}}, 1100);

    ft::io::GgufWriter g;
    g.add_string("general.architecture", "llama");
    g.add_string("general.name", "fthost conformance");
    g.add_u32("llama.block_count", 2);
    g.add_i32("t.i32", -5);
    g.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    g.add_bool("t.bool", true);
    g.add_u8("t.u8", 200);
    g.add_i8("t.i8", -100);
    g.add_u16("t.u16", 60000);
    g.add_i16("t.i16", -30000);
    g.add_u64("t.u64", 1ull << 50);
    g.add_i64("t.i64", -(1ll << 50));
    g.add_f64("t.f64", 0.125);
    g.add_array("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "Ġthe", "日本"});
    g.add_array("tokenizer.ggml.token_type", std::vector<int32_t>{3, 1, 1});
    g.add_array("tokenizer.ggml.scores", std::vector<float>{0.f, -1.f, -2.5f});
    at::Tensor w = torch::arange(256, at::kFloat).sub(128).div(32).reshape({4, 64});  // [-4, 4) in 1/32 steps
    g.add_tensor("w.f32", w, ft::io::GgufType::F32);
    g.add_tensor("w.f16", w, ft::io::GgufType::F16);
    g.add_tensor("w.bf16", w, ft::io::GgufType::BF16);
    g.add_tensor("w.q8_0", torch::sin(torch::arange(256, at::kFloat)).mul(3).reshape({4, 64}),
                 ft::io::GgufType::Q8_0);
    g.add_tensor("norm", torch::ones({7}), ft::io::GgufType::F32);
    g.write(out + "/model.gguf");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
