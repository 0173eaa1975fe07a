// safetensors files through LibTorch: round trips of every dtype, reference byte layout, alignment,
// mmap aliasing and lifetime, unaligned files, sharded save/load with its index, stale-file cleanup,
// index inconsistencies, and check_state_dict's error text.
#include <torch/torch.h>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "core/interrupt.h"
#include "io/safetensors.h"
#include "io_test_util.h"

using namespace ft::io;
using ft::io::test::expect_error;
using ft::io::test::read_bytes;
using ft::io::test::st_bytes;
using ft::io::test::TempDir;
using ft::io::test::write_bytes;

namespace {
std::vector<std::pair<std::string, at::Tensor>> every_dtype() {
  torch::manual_seed(7);
  auto f = torch::randn({3, 5});
  return {
      {"bool", torch::rand({7}) > 0.5},
      {"u8", torch::randint(0, 255, {3, 3}, at::kByte)},
      {"i8", torch::randint(-128, 127, {5}, at::kChar)},
      {"i16", torch::randint(-30000, 30000, {2, 3}, at::kShort)},
      {"i32", torch::randint(-100000, 100000, {3}, at::kInt)},
      {"i64", torch::tensor({int64_t(1) << 40, int64_t(-3), int64_t(9007199254740993)}, at::kLong)},
      {"f16", f.to(at::kHalf)},
      {"bf16", f.to(at::kBFloat16)},
      {"f32", f},
      {"f64", torch::randn({2, 2}, at::kDouble)},
      {"c64", torch::randn({3}, at::kComplexFloat)},
      {"scalar", torch::tensor(3.5)},
      {"empty", torch::zeros({0, 4})},
  };
}
}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors_file)

BOOST_AUTO_TEST_CASE(round_trip_every_dtype) {
  TempDir d;
  auto ts = every_dtype();
  write_safetensors_file(d.file("all.safetensors"), ts, {{"format", "pt"}, {"k", "v"}});
  SafetensorsHeader h;
  auto back = load_safetensors_file(d.file("all.safetensors"), &h);
  BOOST_CHECK_EQUAL(back.size(), ts.size());
  for (const auto& [name, t] : ts) {
    BOOST_REQUIRE_MESSAGE(back.count(name), name);
    BOOST_CHECK_EQUAL(back[name].scalar_type(), t.scalar_type());
    BOOST_CHECK(back[name].sizes() == t.sizes());
    BOOST_CHECK_MESSAGE(torch::equal(back[name], t), name);
  }
  BOOST_CHECK_EQUAL(h.metadata.at("k"), "v");
  // Widest dtypes first, then by name; every tensor starts aligned to its element size.
  std::vector<std::string> order;
  for (const auto& t : h.tensors) order.push_back(t.name);
  std::vector<std::string> want = {"i64",  "f64", "c64", "empty", "f32", "scalar", "i32",
                                   "bf16", "f16", "i16", "i8",    "u8",  "bool"};
  BOOST_CHECK(order == want);
  BOOST_CHECK_EQUAL(h.data_offset % 8, 0u);
  for (const auto& [name, t] : back)
    BOOST_CHECK_MESSAGE(reinterpret_cast<uintptr_t>(t.data_ptr()) % t.element_size() == 0, name);
}

BOOST_AUTO_TEST_CASE(file_bytes_match_reference_writer) {
  // The reference writer's test vector: {"attn.0": f32 [1,2,3] = 0..5}, no metadata.
  TempDir d;
  write_safetensors_file(d.file("a.safetensors"),
                         {{"attn.0", torch::arange(6, at::kFloat).reshape({1, 2, 3})}}, {});
  std::string want = st_bytes(R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})", 0);
  for (float v : {0.f, 1.f, 2.f, 3.f, 4.f, 5.f}) want.append(reinterpret_cast<const char*>(&v), 4);
  BOOST_CHECK(read_bytes(d.file("a.safetensors")) == want);
}

BOOST_AUTO_TEST_CASE(non_contiguous_and_views_are_written_logically) {
  TempDir d;
  auto base = torch::arange(12, at::kFloat).reshape({3, 4});
  write_safetensors_file(d.file("v.safetensors"), {{"t", base.t()}, {"slice", base.select(1, 2)}}, {});
  auto back = load_safetensors(d.file("v.safetensors"));
  BOOST_CHECK(torch::equal(back["t"], base.t().contiguous()));
  BOOST_CHECK(torch::equal(back["slice"], torch::tensor({2.f, 6.f, 10.f})));
}

BOOST_AUTO_TEST_CASE(tensors_alias_the_mapping_and_outlive_the_map) {
  TempDir d;
  write_safetensors_file(d.file("m.safetensors"), {{"a", torch::ones({1000})}, {"b", torch::full({10}, 2.0)}},
                         {});
  std::string before = read_bytes(d.file("m.safetensors"));
  at::Tensor keep;
  {
    auto m = load_safetensors(d.file("m.safetensors"));
    keep = m["b"];
    // Aliasing: both tensors live in one mapping, b right after a in file order (a is 4000 bytes).
    BOOST_CHECK_EQUAL(static_cast<char*>(m["b"].data_ptr()) - static_cast<char*>(m["a"].data_ptr()), 4000);
  }
  BOOST_CHECK(torch::equal(keep, torch::full({10}, 2.0)));
  keep.add_(1);  // copy-on-write: the file must not change
  BOOST_CHECK(torch::equal(keep, torch::full({10}, 3.0)));
  BOOST_CHECK(read_bytes(d.file("m.safetensors")) == before);
}

BOOST_AUTO_TEST_CASE(unaligned_file_from_another_writer_loads) {
  // Header of odd length (no padding): the f32 data starts at an odd address and must be copied.
  TempDir d;
  std::string h = R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  BOOST_REQUIRE(h.size() % 4 != 0);
  std::string bytes = st_bytes(h, 0);
  for (float v : {1.5f, -2.f, 8.25f}) bytes.append(reinterpret_cast<const char*>(&v), 4);
  write_bytes(d.file("u.safetensors"), bytes);
  auto m = load_safetensors(d.file("u.safetensors"));
  BOOST_CHECK(torch::equal(m["w"], torch::tensor({1.5f, -2.f, 8.25f})));
}

BOOST_AUTO_TEST_CASE(load_errors_name_the_file_and_tensor) {
  TempDir d;
  std::string h = R"({"w":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}})";
  write_bytes(d.file("u16.safetensors"), st_bytes(h, 4));
  expect_error([&] { load_safetensors(d.file("u16.safetensors")); },
               {"u16.safetensors", "tensor 'w'", "dtype U16"});
  write_bytes(d.file("trunc.safetensors"),
              st_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 3));
  expect_error([&] { load_safetensors(d.file("trunc.safetensors")); }, {"trunc.safetensors", "truncated"});
  expect_error([&] { load_safetensors(d.file("nope.safetensors")); }, {"cannot open", "nope.safetensors"});
  TempDir empty;
  expect_error([&] { load_safetensors(empty.path.string()); }, {"holds no .safetensors file"});
}

BOOST_AUTO_TEST_CASE(write_errors) {
  TempDir d;
  expect_error(
      [&] {
        write_safetensors_file(d.file("x"), {{"a", torch::ones(1)}, {"a", torch::ones(1)}}, {});
      },
      {"tensor 'a' appears twice"});
  expect_error(
      [&] {
        write_safetensors_file(d.file("x"), {{"__metadata__", torch::ones(1)}}, {});
      },
      {"reserved"});
  expect_error(
      [&] {
        write_safetensors_file(d.file("x"), {{"u", at::Tensor()}}, {});
      },
      {"tensor 'u'", "undefined"});
  expect_error(
      [&] {
        write_safetensors_file(d.file("x"), {{"bad\xff", torch::ones(1)}}, {});
      },
      {"not valid UTF-8"});
  BOOST_CHECK(!std::filesystem::exists(d.file("x")));
  BOOST_CHECK(std::filesystem::is_empty(d.path));  // no temp file left behind
}

BOOST_AUTO_TEST_CASE(interrupted_write_keeps_the_old_file) {
  // Ctrl-C between tensors: the previous file stays as it was and no temp file is left.
  TempDir d;
  write_safetensors_file(d.file("m.safetensors"), {{"old", torch::ones({3})}}, {});
  std::string before = read_bytes(d.file("m.safetensors"));
  ft::request_interrupt();
  BOOST_CHECK_THROW(write_safetensors_file(d.file("m.safetensors"), {{"new", torch::zeros({5})}}, {}),
                    ft::Interrupted);
  ft::clear_interrupt();
  BOOST_CHECK(read_bytes(d.file("m.safetensors")) == before);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(d.path)) files += e.is_regular_file();
  BOOST_CHECK_EQUAL(files, 1u);
}

BOOST_AUTO_TEST_CASE(sharded_save_and_load) {
  TempDir d;
  std::vector<std::pair<std::string, at::Tensor>> ts = {
      {"model.embed_tokens.weight", torch::randn({64, 8})},       // 2048 bytes
      {"model.layers.0.w", torch::randn({16, 8})},                // 512
      {"model.layers.1.w", torch::randn({16, 8})},                // 512
      {"model.layers.1.b", torch::randn({8}).to(at::kBFloat16)},  // 16
      {"lm_head.weight", torch::randn({64, 8})},                  // 2048
  };
  save_safetensors(d.path.string(), ts, {{"note", "hi"}}, 1100);
  // Like huggingface_hub: a tensor above the cap gets a shard of its own as soon as it is met, while the
  // small ones keep filling the current shard, which is closed last.
  auto index = nlohmann::json::parse(read_bytes(d.file("model.safetensors.index.json")));
  BOOST_CHECK_EQUAL(index["metadata"]["total_size"].get<uint64_t>(), 2048u + 512 + 512 + 16 + 2048);
  BOOST_CHECK_EQUAL(index["metadata"]["note"], "hi");
  const auto& wm = index["weight_map"];
  BOOST_CHECK_EQUAL(wm["model.embed_tokens.weight"], "model-00001-of-00003.safetensors");
  BOOST_CHECK_EQUAL(wm["lm_head.weight"], "model-00002-of-00003.safetensors");
  BOOST_CHECK_EQUAL(wm["model.layers.0.w"], "model-00003-of-00003.safetensors");
  BOOST_CHECK_EQUAL(wm["model.layers.1.b"], "model-00003-of-00003.safetensors");
  BOOST_CHECK(!std::filesystem::exists(d.file("model.safetensors")));
  SafetensorsHeader h;
  load_safetensors_file(d.file("model-00003-of-00003.safetensors"), &h);
  BOOST_CHECK(h.metadata == (std::map<std::string, std::string>{{"format", "pt"}}));
  BOOST_CHECK_EQUAL(h.tensors.size(), 3u);

  for (const std::string& path : {d.path.string(), d.file("model.safetensors.index.json")}) {
    auto back = load_safetensors(path);
    BOOST_REQUIRE_EQUAL(back.size(), ts.size());
    for (const auto& [name, t] : ts) BOOST_CHECK_MESSAGE(torch::equal(back.at(name), t), name);
  }

  // Re-saving unsharded replaces the index and the shards with one file carrying the metadata.
  save_safetensors(d.path.string(), ts, {{"note", "hi"}});
  BOOST_CHECK(std::filesystem::exists(d.file("model.safetensors")));
  BOOST_CHECK(!std::filesystem::exists(d.file("model.safetensors.index.json")));
  BOOST_CHECK(!std::filesystem::exists(d.file("model-00001-of-00003.safetensors")));
  load_safetensors_file(d.file("model.safetensors"), &h);
  BOOST_CHECK(h.metadata == (std::map<std::string, std::string>{{"format", "pt"}, {"note", "hi"}}));
  BOOST_CHECK_EQUAL(load_safetensors(d.path.string()).size(), ts.size());
}

BOOST_AUTO_TEST_CASE(sharded_cap_that_fits_everything_writes_one_file) {
  TempDir d;
  save_safetensors(d.path.string(), {{"a", torch::ones({4})}}, {}, 1 << 20, "adapter_model");
  BOOST_CHECK(std::filesystem::exists(d.file("adapter_model.safetensors")));
  BOOST_CHECK(!std::filesystem::exists(d.file("adapter_model.safetensors.index.json")));
  // A folder with one differently named file loads it.
  BOOST_CHECK(torch::equal(load_safetensors(d.path.string()).at("a"), torch::ones({4})));
}

BOOST_AUTO_TEST_CASE(index_inconsistencies_name_the_tensor) {
  TempDir d;
  std::vector<std::pair<std::string, at::Tensor>> ts = {{"a", torch::ones({64})}, {"b", torch::ones({64})}};
  save_safetensors(d.path.string(), ts, {}, 300);
  std::string idx = d.file("model.safetensors.index.json");
  auto j = nlohmann::json::parse(read_bytes(idx));
  auto original = j;

  j["weight_map"]["a"] = "model-00002-of-00002.safetensors";
  j["weight_map"]["c"] = "model-00001-of-00002.safetensors";  // keeps shard 1 referenced
  write_bytes(idx, j.dump());
  expect_error([&] { load_safetensors(d.path.string()); },
               {"tensor 'a'", "model-00001-of-00002.safetensors"});

  j = original;
  j["weight_map"]["ghost"] = "model-00001-of-00002.safetensors";
  write_bytes(idx, j.dump());
  expect_error([&] { load_safetensors(d.path.string()); }, {"tensor 'ghost'", "does not contain it"});

  j = original;
  j["weight_map"].erase("b");
  j["weight_map"]["c"] = "model-00002-of-00002.safetensors";
  write_bytes(idx, j.dump());
  expect_error([&] { load_safetensors(d.path.string()); }, {"tensor 'b'", "does not list"});

  j = original;
  j["weight_map"]["a"] = "../evil.safetensors";
  write_bytes(idx, j.dump());
  expect_error([&] { load_safetensors(d.path.string()); }, {"tensor 'a'", "not a file inside"});

  j = original;
  j["weight_map"]["c"] = "model-00009-of-00009.safetensors";
  write_bytes(idx, j.dump());
  expect_error([&] { load_safetensors(d.path.string()); },
               {"model-00009-of-00009.safetensors", "does not exist"});

  write_bytes(idx, "{\"weight_map\": {");
  expect_error([&] { load_safetensors(d.path.string()); },
               {"model.safetensors.index.json", "not valid JSON"});
}

BOOST_AUTO_TEST_CASE(check_state_dict_reports_every_mismatch) {
  std::map<std::string, std::vector<int64_t>> expected = {
      {"model.norm.weight", {8}}, {"model.embed_tokens.weight", {32, 8}}, {"lm_head.weight", {32, 8}}};
  std::map<std::string, at::Tensor> ok = {{"model.norm.weight", torch::ones({8})},
                                          {"model.embed_tokens.weight", torch::ones({32, 8})},
                                          {"lm_head.weight", torch::ones({32, 8})}};
  check_state_dict(expected, ok, "ckpt");  // no throw

  std::map<std::string, at::Tensor> bad = {{"model.norm.weigth", torch::ones({8})},
                                           {"model.embed_tokens.weight", torch::ones({32, 4})},
                                           {"lm_head.weight", torch::ones({32, 8})},
                                           {"extra.bias", torch::ones({2})}};
  expect_error([&] { check_state_dict(expected, bad, "ckpt/model.safetensors"); },
               {"ckpt/model.safetensors", "1 missing: 'model.norm.weight'",
                "2 unexpected: 'extra.bias', 'model.norm.weigth'",
                "1 with the wrong shape: 'model.embed_tokens.weight' expected [32, 8], found [32, 4]",
                "has 'model.norm.weigth' where 'model.norm.weight' was expected", "config.json"});

  std::map<std::string, std::vector<int64_t>> many;
  for (int i = 0; i < 9; ++i) many["w" + std::to_string(i)] = {1};
  expect_error([&] { check_state_dict(many, {}, "x"); },
               {"9 missing: 'w0', 'w1', 'w2', 'w3', 'w4', ... (4 more)"});
}

BOOST_AUTO_TEST_SUITE_END()
