// safetensors header parsing: each malformed-file rule one by one (the error must name the file and
// the tensor/field), valid corner cases, and header serialisation matching the reference writer's bytes.
#include <boost/test/unit_test.hpp>

#include "io/safetensors.h"
#include "io_test_util.h"

using ft::io::parse_safetensors_header;
using ft::io::SafetensorsHeader;
using ft::io::test::expect_error;
using ft::io::test::st_bytes;

namespace {
SafetensorsHeader parse(const std::string& bytes) {
  return parse_safetensors_header(bytes.data(), bytes.size(), "m.st");
}
}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors_header)

BOOST_AUTO_TEST_CASE(valid_header_sorted_by_offset_with_metadata) {
  std::string h = R"({"b":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},)"
                  R"("__metadata__":{"format":"pt","note":"x"},)"
                  R"("a":{"dtype":"I16","shape":[4],"data_offsets":[0,8]}})";
  auto hd = parse(st_bytes(h, 24));
  BOOST_REQUIRE_EQUAL(hd.tensors.size(), 2u);
  BOOST_CHECK_EQUAL(hd.tensors[0].name, "a");
  BOOST_CHECK_EQUAL(hd.tensors[1].name, "b");
  BOOST_CHECK_EQUAL(hd.tensors[1].dtype, "F32");
  BOOST_CHECK(hd.tensors[1].shape == (std::vector<int64_t>{2, 2}));
  BOOST_CHECK_EQUAL(hd.tensors[1].begin, 8u);
  BOOST_CHECK_EQUAL(hd.tensors[1].end, 24u);
  BOOST_CHECK_EQUAL(hd.metadata.at("format"), "pt");
  BOOST_CHECK_EQUAL(hd.metadata.at("note"), "x");
  BOOST_CHECK_EQUAL(hd.data_offset, 8 + h.size());
}

BOOST_AUTO_TEST_CASE(valid_corner_cases) {
  // Empty header, scalar ([] shape), zero-size tensors sharing an offset, sub-byte dtype with whole bytes,
  // trailing space padding.
  BOOST_CHECK_EQUAL(parse(st_bytes("{}      ", 0)).tensors.size(), 0u);
  std::string h = R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},)"
                  R"("z1":{"dtype":"F32","shape":[0,5],"data_offsets":[8,8]},)"
                  R"("z2":{"dtype":"BF16","shape":[3,0],"data_offsets":[8,8]},)"
                  R"("f4":{"dtype":"F4","shape":[2],"data_offsets":[8,9]}}   )";
  auto hd = parse(st_bytes(h, 9));
  BOOST_REQUIRE_EQUAL(hd.tensors.size(), 4u);
  BOOST_CHECK_EQUAL(hd.tensors[0].name, "s");
  BOOST_CHECK(hd.tensors[0].shape.empty());
  BOOST_CHECK_EQUAL(hd.tensors[3].name, "f4");
}

BOOST_AUTO_TEST_CASE(truncated_file) {
  expect_error([] { parse(std::string("\x10\0\0", 3)); }, {"m.st", "is 3 bytes", "8-byte header length"});
  // Header length beyond the end of the file.
  expect_error([] { parse(st_bytes("{}", 0, 500)); },
               {"m.st", "header length 500 runs past the end", "truncated"});
  // Data section shorter than the tensors need.
  std::string h = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  expect_error([&] { parse(st_bytes(h, 8)); }, {"m.st", "data section is 8 bytes", "cover 16", "truncated"});
}

BOOST_AUTO_TEST_CASE(trailing_bytes) {
  std::string h = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  expect_error([&] { parse(st_bytes(h, 20)); },
               {"m.st", "data section is 20 bytes", "cover 16", "trailing bytes"});
}

BOOST_AUTO_TEST_CASE(overlapping_offsets) {
  std::string h = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                  R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
  expect_error([&] { parse(st_bytes(h, 24)); },
               {"m.st", "tensor 'b'", "begin 8", "'a' ends at 16", "overlap"});
}

BOOST_AUTO_TEST_CASE(hole_between_tensors_and_not_starting_at_zero) {
  std::string h = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                  R"("b":{"dtype":"F32","shape":[4],"data_offsets":[20,36]}})";
  expect_error([&] { parse(st_bytes(h, 36)); }, {"tensor 'b'", "begin 20", "'a' ends at 16", "hole"});
  std::string h2 = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})";
  expect_error([&] { parse(st_bytes(h2, 8)); }, {"tensor 'a'", "begin 4", "data section starts at 0"});
}

BOOST_AUTO_TEST_CASE(bad_dtype) {
  std::string h = R"({"emb":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}})";
  expect_error([&] { parse(st_bytes(h, 16)); },
               {"m.st", "tensor 'emb'", "unknown dtype 'F33'", "did you mean 'F32'"});
  std::string h2 = R"({"emb":{"dtype":32,"shape":[4],"data_offsets":[0,16]}})";
  expect_error([&] { parse(st_bytes(h2, 16)); }, {"tensor 'emb'", "'dtype' must be a string"});
}

BOOST_AUTO_TEST_CASE(huge_header) {
  expect_error([] { parse(st_bytes("{}", 0, 100'000'001)); },
               {"m.st", "header length 100000001", "100000000-byte limit"});
  expect_error([] { parse(st_bytes("{}", 0, UINT64_MAX - 1)); }, {"exceeds the 100000000-byte limit"});
}

BOOST_AUTO_TEST_CASE(wrong_sizes) {
  std::string h = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})";
  expect_error([&] { parse(st_bytes(h, 12)); },
               {"m.st", "tensor 'w'", "span 12 bytes", "shape [2, 2] of F32 needs 16"});
  std::string f4 = R"({"q":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})";
  expect_error([&] { parse(st_bytes(f4, 2)); }, {"tensor 'q'", "12 bits, not a whole number of bytes"});
  std::string ovf = R"({"o":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})";
  expect_error([&] { parse(st_bytes(ovf, 8)); }, {"tensor 'o'", "overflows"});
  std::string back = R"({"r":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})";
  expect_error([&] { parse(st_bytes(back, 8)); }, {"tensor 'r'", "end before begin"});
}

BOOST_AUTO_TEST_CASE(bad_json) {
  expect_error([] { parse(st_bytes(R"({"a": {"dtype": )", 0)); }, {"m.st", "header is not valid JSON"});
  expect_error([] { parse(st_bytes(R"([1,2])", 0)); }, {"must be a JSON object starting with '{'"});
  expect_error([] { parse(st_bytes(R"(  {})", 0)); }, {"starting with '{'"});
  expect_error([] { parse(st_bytes(std::string("{\"a\xff\":1}"), 0)); }, {"header is not valid JSON"});
  std::string deep = "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}";
  expect_error([&] { parse(st_bytes(deep, 0)); }, {"nests deeper than 64"});
}

BOOST_AUTO_TEST_CASE(duplicate_keys) {
  std::string h = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                  R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
  expect_error([&] { parse(st_bytes(h, 2)); }, {"m.st", "the key 'w' twice"});
  std::string h2 = R"({"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}})";
  expect_error([&] { parse(st_bytes(h2, 1)); }, {"the key 'dtype' twice"});
}

BOOST_AUTO_TEST_CASE(bad_fields) {
  std::string miss = R"({"w":{"dtype":"U8","shape":[1]}})";
  expect_error([&] { parse(st_bytes(miss, 1)); }, {"tensor 'w'", "missing field 'data_offsets'"});
  std::string neg = R"({"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}})";
  expect_error([&] { parse(st_bytes(neg, 1)); },
               {"tensor 'w'", "'shape' must hold non-negative integers", "-1"});
  std::string frac = R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})";
  expect_error([&] { parse(st_bytes(frac, 1)); }, {"tensor 'w'", "'shape'", "1.5"});
  std::string three = R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})";
  expect_error([&] { parse(st_bytes(three, 1)); }, {"tensor 'w'", "'data_offsets' must be [begin, end]"});
  std::string notobj = R"({"w":[1,2]})";
  expect_error([&] { parse(st_bytes(notobj, 0)); }, {"tensor 'w'", "entry must be an object"});
  std::string md = R"({"__metadata__":{"format":"pt","epoch":3}})";
  expect_error([&] { parse(st_bytes(md, 0)); },
               {"m.st", "'__metadata__' value for 'epoch' must be a string", "3"});
  std::string md2 = R"({"__metadata__":["pt"]})";
  expect_error([&] { parse(st_bytes(md2, 0)); }, {"'__metadata__' must be an object"});
}

// Byte layouts from the reference implementation's own serialisation tests.
BOOST_AUTO_TEST_CASE(serialize_matches_reference_bytes) {
  using ft::io::TensorInfo;
  std::string h = ft::io::serialize_safetensors_header({TensorInfo{"attn.0", "F32", {1, 2, 3}, 0, 24}}, {});
  BOOST_CHECK_EQUAL(h, R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})");
  BOOST_CHECK_EQUAL(h.size(), 64u);  // already a multiple of 8: no padding
  std::string h2 =
      ft::io::serialize_safetensors_header({TensorInfo{"attn0", "F32", {1, 1, 2, 3}, 0, 24}}, {});
  BOOST_CHECK_EQUAL(
      h2, R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" + std::string(7, ' '));
  BOOST_CHECK_EQUAL(ft::io::serialize_safetensors_header({}, {}), "{}      ");
  BOOST_CHECK_EQUAL(ft::io::serialize_safetensors_header({}, {{"framework", "pt"}}),
                    R"({"__metadata__":{"framework":"pt"}})" + std::string(5, ' '));
  // Escapes as serde_json does, and parses back.
  std::string h3 = ft::io::serialize_safetensors_header({TensorInfo{"q\"\\\n\x01é", "U8", {1}, 0, 1}}, {});
  BOOST_CHECK_EQUAL(h3.substr(0, 18), "{\"q\\\"\\\\\\n\\u0001é\"");
  auto back = parse(st_bytes(h3, 1));
  BOOST_CHECK_EQUAL(back.tensors.at(0).name, "q\"\\\n\x01é");
}

BOOST_AUTO_TEST_SUITE_END()
