// config.json parsing (transformers v4 and v5 keys, llama/qwen2/mistral) and RoPE frequencies,
// including llama3 rope scaling against values computed by hand.
#include <boost/test/unit_test.hpp>

#include "core/error.h"
#include "model/config.h"

using ft::model::parse_config;
using nlohmann::json;

namespace {
json llama_base() {
  return json::parse(R"({"model_type": "llama", "vocab_size": 1000, "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2,
    "rms_norm_eps": 1e-5, "max_position_embeddings": 131072, "tie_word_embeddings": false,
    "bos_token_id": 1, "eos_token_id": [2, 3]})");
}
std::string error_of(const json& j) {
  try {
    parse_config(j, "config.json");
  } catch (const ft::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(llama3_rope_scaling_v4_keys) {
  json j = llama_base();
  j["rope_theta"] = 500000.0;
  j["torch_dtype"] = "bfloat16";
  j["rope_scaling"] = json::parse(R"({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})");
  auto c = parse_config(j, "config.json");
  BOOST_TEST(c.arch == "llama");
  BOOST_TEST(c.head_dim == 8);
  BOOST_TEST(c.num_key_value_heads == 2);
  BOOST_TEST(c.dtype == "bfloat16");
  BOOST_TEST(c.rope_scaling.type == "llama3");
  BOOST_TEST((c.eos_token_ids == std::vector<int64_t>{2, 3}));
  BOOST_TEST(!c.qkv_bias());
  // head_dim 8, theta 5e5: inv = theta^(-2i/8) = 1, 0.0376060..., 0.00141421..., 5.3183e-5.
  // wavelengths 6.28, 167, 4443, 118142 against low_wl 8192 / high_wl 2048: the first two are kept,
  // the third is smoothed with s = (8192/4443 - 1)/3, the fourth divided by 8.
  auto inv = ft::model::rope_inv_freq(c);
  const double expect[] = {1.0, 0.03760603093086393, 0.0005248461609929547, 6.647869871181236e-06};
  BOOST_REQUIRE(inv.numel() == 4);
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(inv[i].item<double>() == expect[i], boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(v5_rope_parameters_and_dtype) {
  json j = llama_base();
  j["dtype"] = "float16";
  j["rope_parameters"] = json::parse(R"({"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})");
  auto c = parse_config(j, "config.json");
  BOOST_TEST(c.rope_theta == 500000.0);
  BOOST_TEST(c.rope_scaling.factor == 32.0);
  BOOST_TEST(c.dtype == "float16");
  auto inv = ft::model::rope_inv_freq(c);
  BOOST_TEST(inv[3].item<double>() == 5.318295896944989e-05 / 32, boost::test_tools::tolerance(1e-12));
  // Written back with v4 keys, and read again to the same values.
  auto back = parse_config(ft::model::config_to_json(c), "again");
  BOOST_TEST(!ft::model::config_to_json(c).contains("rope_parameters"));
  BOOST_TEST(back.rope_theta == 500000.0);
  BOOST_TEST(back.rope_scaling.factor == 32.0);
  BOOST_TEST(back.dtype == "float16");
}

BOOST_AUTO_TEST_CASE(plain_rope_default_theta_values) {
  json j = llama_base();
  j["rope_theta"] = 10000.0;
  auto inv = ft::model::rope_inv_freq(parse_config(j, "c"));
  BOOST_TEST(inv[1].item<double>() == 0.1, boost::test_tools::tolerance(1e-12));  // 10000^(-2/8)
  BOOST_TEST(inv[2].item<double>() == 0.01, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(qwen2_bias_and_sliding_window) {
  json j = json::parse(R"({"model_type": "qwen2", "vocab_size": 500, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
    "use_sliding_window": true, "sliding_window": 16, "max_window_layers": 2, "rope_theta": 1000000.0,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "eos_token_id": 151643})");
  auto c = parse_config(j, "config.json");
  BOOST_TEST(c.qkv_bias());
  BOOST_TEST(!c.o_bias());
  BOOST_TEST(c.tie_word_embeddings);
  BOOST_TEST(c.sliding_window == 16);
  BOOST_TEST((c.layer_sliding == std::vector<bool>{false, false, true, true}));
  BOOST_TEST(c.rms_norm_eps == 1e-6);  // qwen2 default
  j["use_sliding_window"] = false;
  BOOST_TEST(parse_config(j, "c").sliding_window == 0);
}

BOOST_AUTO_TEST_CASE(mistral_window_applies_to_all_layers) {
  json j = llama_base();
  j["model_type"] = "mistral";
  j["sliding_window"] = 4096;
  auto c = parse_config(j, "c");
  BOOST_TEST(c.sliding_window == 4096);
  BOOST_TEST((c.layer_sliding == std::vector<bool>{true, true}));
}

BOOST_AUTO_TEST_CASE(errors_name_field_and_file) {
  json j = llama_base();
  j.erase("hidden_size");
  std::string e = error_of(j);
  BOOST_TEST(e.find("config.json") != std::string::npos);
  BOOST_TEST(e.find("'hidden_size' is missing") != std::string::npos);

  j = llama_base();
  j["num_attention_heads"] = "eight";
  BOOST_TEST(error_of(j).find("'num_attention_heads' must be an integer, found string") != std::string::npos);

  j = llama_base();
  j["num_key_value_heads"] = 3;
  BOOST_TEST(error_of(j).find("multiple of num_key_value_heads (3)") != std::string::npos);

  j = llama_base();
  j["rope_scaling"] = json::parse(R"({"rope_type": "yarn", "factor": 4.0})");
  BOOST_TEST(error_of(j).find("rope type 'yarn' is not supported") != std::string::npos);

  j = llama_base();
  j["model_type"] = "gpt2";
  BOOST_TEST(error_of(j).find("model_type 'gpt2' is not supported") != std::string::npos);

  j = llama_base();
  j["torch_dtype"] = "float8";
  BOOST_TEST(error_of(j).find("dtype 'float8' is not supported") != std::string::npos);
}
