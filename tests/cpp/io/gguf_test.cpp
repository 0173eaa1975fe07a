// GGUF: half/bfloat16 conversions against LibTorch's, q8_0 quantisation (exact block and error bound),
// a file with every KV type and every tensor type parsed back byte by byte, writer and reader errors.
#include <torch/torch.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "core/interrupt.h"
#include "io/gguf.h"
#include "io/gguf_quant.h"
#include "io_test_util.h"

using namespace ft::io;
using ft::io::test::expect_error;
using ft::io::test::read_bytes;
using ft::io::test::TempDir;
using ft::io::test::write_bytes;

namespace {
GgufFile parse_file(const std::string& path, std::string* bytes_out = nullptr) {
  std::string bytes = read_bytes(path);
  GgufFile g = parse_gguf(bytes.data(), bytes.size(), path);
  if (bytes_out) *bytes_out = std::move(bytes);
  return g;
}
const GgufTensorInfo& tensor(const GgufFile& g, const std::string& name) {
  for (const auto& t : g.tensors)
    if (t.name == name) return t;
  BOOST_FAIL("no tensor " + name);
  throw;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(gguf)

BOOST_AUTO_TEST_CASE(half_conversions_match_libtorch) {
  // Random normals at many scales, subnormal range, overflow boundary, specials.
  torch::manual_seed(1);
  auto x = torch::cat(
      {torch::randn({20000}) * 1e-6, torch::randn({20000}), torch::randn({20000}) * 3e4,
       torch::randn({20000}) * 1e-8,
       torch::tensor({0.f, -0.f, 65504.f, 65519.f, 65520.f, 1e10f, -1e10f, 5.96e-8f, 2.98e-8f, 2.99e-8f,
                      6.1e-5f, std::ldexp(1.f, -14), std::ldexp(1.f, -24) * 1.5f, INFINITY, -INFINITY})});
  auto h = x.to(at::kHalf);
  auto b = x.to(at::kBFloat16);
  const float* xp = x.data_ptr<float>();
  const uint16_t* hp = reinterpret_cast<const uint16_t*>(h.data_ptr());
  const uint16_t* bp = reinterpret_cast<const uint16_t*>(b.data_ptr());
  int64_t bad_h = 0, bad_b = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (fp32_to_fp16(xp[i]) != hp[i] && bad_h++ < 5) BOOST_ERROR("fp16 of " << xp[i]);
    if (fp32_to_bf16(xp[i]) != bp[i] && bad_b++ < 5) BOOST_ERROR("bf16 of " << xp[i]);
  }
  BOOST_CHECK_EQUAL(bad_h, 0);
  BOOST_CHECK_EQUAL(bad_b, 0);
  BOOST_CHECK(std::isnan(fp16_to_fp32(fp32_to_fp16(NAN))));
  BOOST_CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
  // Every half bit pattern decodes as LibTorch decodes it.
  auto all = torch::arange(65536, at::kInt).to(at::kShort).view(at::kHalf).to(at::kFloat);
  for (uint32_t i = 0; i < 65536; ++i) {
    float want = all[i].item<float>(), got = fp16_to_fp32(static_cast<uint16_t>(i));
    if (!(std::isnan(want) && std::isnan(got)))
      BOOST_REQUIRE_MESSAGE(std::memcmp(&want, &got, 4) == 0, "half 0x" << std::hex << i);
  }
}

BOOST_AUTO_TEST_CASE(q8_0_block_exact) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = (i - 16) * 0.25f;  // amax = 4 -> d = 4/127
  std::vector<uint8_t> q(34);
  quantize_q8_0(x.data(), 32, q.data());
  BOOST_CHECK_EQUAL(q[0] | (q[1] << 8), fp32_to_fp16(4.0f / 127.0f));
  for (int i = 0; i < 32; ++i)
    BOOST_CHECK_EQUAL(static_cast<int8_t>(q[2 + i]), static_cast<int8_t>(std::round(x[i] * (127.0f / 4.0f))));
  BOOST_CHECK_EQUAL(static_cast<int8_t>(q[2]), -127);
  // All zeros: zero scale, zero values.
  std::vector<float> z(32, 0.f);
  quantize_q8_0(z.data(), 32, q.data());
  for (uint8_t v : q) BOOST_CHECK_EQUAL(v, 0);
}

BOOST_AUTO_TEST_CASE(q8_0_error_bound) {
  // |x - deq(q(x))| <= d/2 (rounding) + 127 * |d - fp16(d)|, and fp16 rounding of the scale is off by at
  // most d * 2^-11 for normal halves, 2^-25 absolute once d falls into the half subnormal range.
  torch::manual_seed(3);
  auto x = torch::randn({64, 256}) * torch::logspace(-4, 2, 64).unsqueeze(1);
  size_t n = static_cast<size_t>(x.numel());
  std::vector<uint8_t> q(n / 32 * 34);
  std::vector<float> deq(n);
  quantize_q8_0(x.data_ptr<float>(), n, q.data());
  dequantize_q8_0(q.data(), n, deq.data());
  const float* xp = x.data_ptr<float>();
  double worst = 0;
  for (size_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xp[b * 32 + j]));
    float d = amax / 127.f;
    for (size_t j = 0; j < 32; ++j) {
      double err = std::fabs(xp[b * 32 + j] - deq[b * 32 + j]);
      double scale_err = std::max(d / 2048.0, std::ldexp(1.0, -25));
      BOOST_REQUIRE_LE(err, d * 0.5 + 127.0 * scale_err + 1e-12);
      worst = std::max(worst, err / d);
    }
  }
  BOOST_TEST_MESSAGE("q8_0 worst error / scale: " << worst);
  BOOST_CHECK_GT(worst, 0.3);  // the bound is not vacuous: rounding errors near d/2 do occur
}

BOOST_AUTO_TEST_CASE(write_and_parse_back_everything) {
  TempDir d;
  torch::manual_seed(5);
  auto w = torch::randn({6, 64});  // [out, in] -> ne = {64, 6}
  auto v = torch::randn({5});
  GgufWriter gw;
  gw.add_string("general.architecture", "qwen2");
  gw.add_u8("t.u8", 250);
  gw.add_i8("t.i8", -7);
  gw.add_u16("t.u16", 65000);
  gw.add_i16("t.i16", -32000);
  gw.add_u32("t.u32", 4000000000u);
  gw.add_i32("t.i32", -2000000000);
  gw.add_u64("t.u64", 18000000000000000000ull);
  gw.add_i64("t.i64", -9000000000000000000ll);
  gw.add_f32("t.f32", 1.25f);
  gw.add_f64("t.f64", -2.5e300);
  gw.add_bool("t.bool", true);
  gw.add_array("tokenizer.ggml.tokens", std::vector<std::string>{"a", "", "Ġhello", "日本"});
  gw.add_array("tokenizer.ggml.token_type", std::vector<int32_t>{1, 3, 1, 1});
  gw.add_array("t.scores", std::vector<float>{0.f, -1.5f});
  GgufValue u64s;
  u64s.type = GgufValueType::ARRAY;
  u64s.elem_type = GgufValueType::UINT64;
  u64s.array = {GgufScalar(std::in_place_type<uint64_t>, 1), GgufScalar(std::in_place_type<uint64_t>, 2)};
  gw.add("t.u64s", u64s);
  gw.add_tensor("w.f32", w, GgufType::F32);
  gw.add_tensor("w.f16", w, GgufType::F16);
  gw.add_tensor("w.bf16", w.to(at::kDouble), GgufType::BF16);
  gw.add_tensor("w.q8_0", w, GgufType::Q8_0);
  gw.add_tensor("v.f32", v, GgufType::F32);  // 20 bytes: the next tensor needs padding
  gw.add_tensor("v.f16", v, GgufType::F16);
  gw.write(d.file("m.gguf"));

  std::string bytes;
  GgufFile g = parse_file(d.file("m.gguf"), &bytes);
  BOOST_CHECK_EQUAL(bytes.substr(0, 4), "GGUF");
  BOOST_CHECK_EQUAL(g.version, 3u);
  BOOST_CHECK_EQUAL(g.alignment, 32u);
  BOOST_CHECK_EQUAL(g.kv.front().first, "general.alignment");  // added first when absent
  BOOST_CHECK_EQUAL(std::get<uint32_t>(g.find("general.alignment")->scalar), 32u);
  BOOST_CHECK_EQUAL(std::get<std::string>(g.find("general.architecture")->scalar), "qwen2");
  BOOST_CHECK_EQUAL(std::get<uint8_t>(g.find("t.u8")->scalar), 250);
  BOOST_CHECK_EQUAL(std::get<int8_t>(g.find("t.i8")->scalar), -7);
  BOOST_CHECK_EQUAL(std::get<uint16_t>(g.find("t.u16")->scalar), 65000);
  BOOST_CHECK_EQUAL(std::get<int16_t>(g.find("t.i16")->scalar), -32000);
  BOOST_CHECK_EQUAL(std::get<uint32_t>(g.find("t.u32")->scalar), 4000000000u);
  BOOST_CHECK_EQUAL(std::get<int32_t>(g.find("t.i32")->scalar), -2000000000);
  BOOST_CHECK_EQUAL(std::get<uint64_t>(g.find("t.u64")->scalar), 18000000000000000000ull);
  BOOST_CHECK_EQUAL(std::get<int64_t>(g.find("t.i64")->scalar), -9000000000000000000ll);
  BOOST_CHECK_EQUAL(std::get<float>(g.find("t.f32")->scalar), 1.25f);
  BOOST_CHECK_EQUAL(std::get<double>(g.find("t.f64")->scalar), -2.5e300);
  BOOST_CHECK_EQUAL(std::get<bool>(g.find("t.bool")->scalar), true);
  BOOST_CHECK(g.find("t.bool")->type == GgufValueType::BOOL);
  const GgufValue* toks = g.find("tokenizer.ggml.tokens");
  BOOST_REQUIRE(toks && toks->type == GgufValueType::ARRAY && toks->elem_type == GgufValueType::STRING);
  BOOST_REQUIRE_EQUAL(toks->array.size(), 4u);
  BOOST_CHECK_EQUAL(std::get<std::string>(toks->array[2]), "Ġhello");
  BOOST_CHECK_EQUAL(std::get<std::string>(toks->array[3]), "日本");
  BOOST_CHECK_EQUAL(std::get<int32_t>(g.find("tokenizer.ggml.token_type")->array[1]), 3);
  BOOST_CHECK_EQUAL(std::get<float>(g.find("t.scores")->array[1]), -1.5f);
  BOOST_CHECK_EQUAL(std::get<uint64_t>(g.find("t.u64s")->array[1]), 2u);

  BOOST_CHECK_EQUAL(g.data_offset % 32, 0u);
  BOOST_REQUIRE_EQUAL(g.tensors.size(), 6u);
  for (const auto& t : g.tensors) BOOST_CHECK_EQUAL(t.offset % 32, 0u);
  BOOST_CHECK_EQUAL(bytes.size() % 32, 0u);
  const auto& tf = tensor(g, "w.f32");
  BOOST_CHECK(tf.dims == (std::vector<uint64_t>{64, 6}));
  BOOST_CHECK_EQUAL(tf.type, 0u);
  BOOST_CHECK_EQUAL(std::memcmp(bytes.data() + g.data_offset + tf.offset, w.data_ptr(), 6 * 64 * 4), 0);

  auto wh = w.to(at::kHalf);
  const auto& th = tensor(g, "w.f16");
  BOOST_CHECK_EQUAL(th.type, 1u);
  BOOST_CHECK_EQUAL(std::memcmp(bytes.data() + g.data_offset + th.offset, wh.data_ptr(), 6 * 64 * 2), 0);
  auto wb = w.to(at::kBFloat16);
  const auto& tb = tensor(g, "w.bf16");
  BOOST_CHECK_EQUAL(tb.type, 30u);
  BOOST_CHECK_EQUAL(std::memcmp(bytes.data() + g.data_offset + tb.offset, wb.data_ptr(), 6 * 64 * 2), 0);

  const auto& tq = tensor(g, "w.q8_0");
  BOOST_CHECK_EQUAL(tq.type, 8u);
  BOOST_CHECK_EQUAL(tensor(g, "v.f32").offset - tq.offset, 6u * 2 * 34 + 8);  // 408 bytes padded to 416
  std::vector<float> deq(6 * 64);
  dequantize_q8_0(reinterpret_cast<const uint8_t*>(bytes.data() + g.data_offset + tq.offset), deq.size(),
                  deq.data());
  auto back = torch::from_blob(deq.data(), {6, 64});
  auto amax = w.view({6, 2, 32}).abs().amax(2, true);
  auto err = (back.view({6, 2, 32}) - w.view({6, 2, 32})).abs();
  BOOST_CHECK((err <= amax / 127 * (0.5 + 127.0 / 2048.0) + 1e-9).all().item<bool>());

  BOOST_CHECK(tensor(g, "v.f32").dims == (std::vector<uint64_t>{5}));
  BOOST_CHECK_EQUAL(tensor(g, "v.f16").offset, tensor(g, "v.f32").offset + 32);
}

BOOST_AUTO_TEST_CASE(custom_alignment_and_scalar_tensor) {
  TempDir d;
  GgufWriter gw;
  gw.add_u32("general.alignment", 64);
  gw.add_tensor("a", torch::ones({3}), GgufType::F32);
  gw.add_tensor("s", torch::tensor(2.0f), GgufType::F32);
  gw.write(d.file("a.gguf"));
  std::string bytes;
  GgufFile g = parse_file(d.file("a.gguf"), &bytes);
  BOOST_CHECK_EQUAL(g.alignment, 64u);
  BOOST_CHECK_EQUAL(g.data_offset % 64, 0u);
  BOOST_CHECK_EQUAL(tensor(g, "s").offset, 64u);
  BOOST_CHECK(tensor(g, "s").dims == (std::vector<uint64_t>{1}));
  BOOST_CHECK_EQUAL(g.kv.size(), 1u);  // not added twice
}

BOOST_AUTO_TEST_CASE(writer_errors) {
  GgufWriter gw;
  gw.add_u32("k", 1);
  expect_error([&] { gw.add_string("k", "again"); }, {"key 'k' is set twice"});
  expect_error([&] { gw.add_u32("general.alignment", 24); }, {"power of two"});
  GgufValue bad;
  bad.type = GgufValueType::UINT32;
  bad.scalar = GgufScalar(std::in_place_type<int32_t>, 1);
  expect_error([&] { gw.add("x", bad); }, {"key 'x'", "does not match"});
  expect_error(
      [&] {
        gw.add_tensor("blk.0.ffn_down.weight", torch::ones({4, 48}), GgufType::Q8_0);
      },
      {"blk.0.ffn_down.weight", "multiple of 32", "48"});
  expect_error([&] { gw.add_tensor(std::string(64, 'n'), torch::ones({4}), GgufType::F32); }, {"1 to 63"});
  expect_error([&] { gw.add_tensor("i", torch::ones({4}, at::kLong), GgufType::F32); },
               {"tensor 'i'", "floating"});
  expect_error(
      [&] {
        gw.add_tensor("d5", torch::ones({1, 1, 1, 1, 1}), GgufType::F32);
      },
      {"tensor 'd5'", "4"});
  gw.add_tensor("t", torch::ones({4}), GgufType::F32);
  expect_error([&] { gw.add_tensor("t", torch::ones({4}), GgufType::F32); }, {"tensor 't' is added twice"});
  expect_error([] { parse_gguf_type("q4_k"); }, {"unknown GGUF tensor type 'q4_k'", "q8_0"});

  TempDir d;
  GgufWriter nan;
  auto x = torch::ones({2, 32});
  x[1][3] = NAN;
  nan.add_tensor("blk.1.attn_q.weight", x, GgufType::Q8_0);
  expect_error([&] { nan.write(d.file("n.gguf")); }, {"blk.1.attn_q.weight", "NaN or Inf"});
  BOOST_CHECK(std::filesystem::is_empty(d.path));  // temp file removed
}

BOOST_AUTO_TEST_CASE(interrupted_write_keeps_the_old_file) {
  TempDir d;
  GgufWriter first;
  first.add_tensor("a", torch::ones({4}), GgufType::F32);
  first.write(d.file("m.gguf"));
  std::string before = read_bytes(d.file("m.gguf"));
  GgufWriter second;
  second.add_tensor("b", torch::zeros({64}), GgufType::F16);
  ft::request_interrupt();
  BOOST_CHECK_THROW(second.write(d.file("m.gguf")), ft::Interrupted);
  ft::clear_interrupt();
  BOOST_CHECK(read_bytes(d.file("m.gguf")) == before);
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(d.path)) files += e.is_regular_file();
  BOOST_CHECK_EQUAL(files, 1u);
}

BOOST_AUTO_TEST_CASE(reader_rejects_malformed_files) {
  TempDir d;
  GgufWriter gw;
  gw.add_string("general.name", "x");
  gw.add_tensor("t", torch::ones({8}), GgufType::F32);
  gw.write(d.file("ok.gguf"));
  std::string good = read_bytes(d.file("ok.gguf"));
  auto parse = [](const std::string& b) { return parse_gguf(b.data(), b.size(), "f.gguf"); };
  BOOST_CHECK_EQUAL(parse(good).tensors.size(), 1u);
  expect_error([&] { parse("GGML" + good.substr(4)); }, {"f.gguf", "magic 'GGUF'"});
  std::string v2 = good;
  v2[4] = 2;
  expect_error([&] { parse(v2); }, {"version 2"});
  expect_error([&] { parse(good.substr(0, good.size() - 16)); }, {"tensor 't'", "runs past the end"});
  expect_error([&] { parse(good.substr(0, 60)); }, {"f.gguf", "file ends inside"});
  std::string huge = good;
  uint64_t big = 1ull << 60;
  std::memcpy(&huge[16], &big, 8);  // KV count
  expect_error([&] { parse(huge); }, {"KV count", "cannot fit"});
}

BOOST_AUTO_TEST_SUITE_END()
