// tokenizer.json loading: BPE ranks in both merge forms, ignore_merges, Split behaviors, added-token
// flags, post-processor BOS, normalizer and invalid-UTF-8 offsets, decoding, and the error messages
// malformed files produce (file, JSON path, what was expected).
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "text/byte_level.h"
#include "text/tokenizer_json.h"

using ft::text::TokenId;
using nlohmann::json;
namespace bl = ft::text::byte_level;

namespace {

// A byte-level BPE file: ids 0..255 are the single bytes, then `words` (raw text) in order.
json byte_level_file(const std::vector<std::string>& words,
                     const std::vector<std::pair<std::string, std::string>>& merges,
                     bool legacy_merges = false) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[bl::to_chars(std::string(1, static_cast<char>(b)))] = b;
  for (size_t i = 0; i < words.size(); ++i) vocab[bl::to_chars(words[i])] = 256 + static_cast<int>(i);
  json m = json::array();
  for (auto& [a, b] : merges) {
    if (legacy_merges)
      m.push_back(bl::to_chars(a) + " " + bl::to_chars(b));
    else
      m.push_back({bl::to_chars(a), bl::to_chars(b)});
  }
  return json{{"version", "1.0"},
              {"added_tokens", json::array()},
              {"normalizer", nullptr},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
              {"post_processor", nullptr},
              {"decoder", {{"type", "ByteLevel"}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}}}};
}

std::shared_ptr<ft::text::Tokenizer> load(const json& j, const json& config = nullptr) {
  return ft::text::parse_tokenizer_json(j.dump(), "tokenizer.json", config.is_null() ? "" : config.dump());
}

std::vector<TokenId> ids_of(const ft::text::Tokenizer& t, const std::string& s, bool special = false) {
  return t.encode(s, special).ids;
}

// Asserts that loading `j` fails with a message containing every one of `parts`.
void expect_error(const std::string& text, const std::vector<std::string>& parts,
                  const std::string& config = "") {
  try {
    ft::text::parse_tokenizer_json(text, "/m/tokenizer.json", config, "/m/tokenizer_config.json");
    BOOST_ERROR("expected ft::Error for: " + text.substr(0, 80));
  } catch (const ft::Error& e) {
    for (auto& p : parts)
      BOOST_TEST(std::string(e.what()).find(p) != std::string::npos, "'" << p << "' in: " << e.what());
  }
}

// <unk> <s> </s>, <0x00>..<0xFF> (3..258), then ▁=259 h=260 i=261 ▁h=262 ▁hi=263.
json sentencepiece_vocab() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  const std::vector<std::string> pieces = {"\xE2\x96\x81", "h", "i", "\xE2\x96\x81h", "\xE2\x96\x81hi"};
  for (size_t i = 0; i < pieces.size(); ++i) vocab[pieces[i]] = 259 + static_cast<int>(i);
  return vocab;
}

}  // namespace

BOOST_AUTO_TEST_CASE(bpe_merges_by_rank_in_both_forms) {
  // Ranks: "l l"=0 beats "e l"=1, so "hello" -> h e ll o -> he ll o -> hell o -> hello.
  std::vector<std::string> words = {"ll", "el", "he", "hell", "hello"};
  std::vector<std::pair<std::string, std::string>> merges = {
      {"l", "l"}, {"e", "l"}, {"h", "e"}, {"he", "ll"}, {"hell", "o"}};
  for (bool legacy : {false, true}) {
    auto t = load(byte_level_file(words, merges, legacy));
    BOOST_TEST(ids_of(*t, "hello") == std::vector<TokenId>({260}), boost::test_tools::per_element());
    // "helo": "e l" merges (no "l l"), then nothing joins h/el/o.
    BOOST_TEST(ids_of(*t, "helo") == std::vector<TokenId>({'h', 257, 'o'}), boost::test_tools::per_element());
    // The GPT-2 regex cuts " hello" off; "Ġ" (space) has no merge with "h", so the space stays alone.
    BOOST_TEST(ids_of(*t, "hello hello") == std::vector<TokenId>({260, ' ', 260}),
               boost::test_tools::per_element());
    BOOST_TEST(t->decode(ids_of(*t, "hello, wörld"), false) == "hello, wörld");
  }
  // With "e l" ranked first, "hello" becomes h el l o and never reaches "hell".
  auto t = load(byte_level_file(words, {{"e", "l"}, {"l", "l"}, {"h", "e"}, {"he", "ll"}, {"hell", "o"}}));
  BOOST_TEST(ids_of(*t, "hello") == std::vector<TokenId>({'h', 257, 'l', 'o'}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ignore_merges_emits_whole_vocab_words) {
  json j = byte_level_file({"xyz"}, {});
  auto plain = load(j);
  BOOST_TEST(ids_of(*plain, "xyz") == std::vector<TokenId>({'x', 'y', 'z'}),
             boost::test_tools::per_element());
  j["model"]["ignore_merges"] = true;
  auto ignoring = load(j);
  BOOST_TEST(ids_of(*ignoring, "xyz") == std::vector<TokenId>({256}), boost::test_tools::per_element());
  BOOST_TEST(ids_of(*ignoring, "xyzx") == std::vector<TokenId>({'x', 'y', 'z', 'x'}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(split_behaviors_match_hf_docs) {
  // HF's documented example: "the-final--countdown" split on "-".
  std::vector<std::string> words = {"the",  "-",      "final",  "--",        "countdown",
                                    "the-", "final-", "-final", "-countdown"};
  auto id = [&](const std::string& w) {
    for (size_t i = 0; i < words.size(); ++i)
      if (words[i] == w) return static_cast<TokenId>(256 + i);
    return w.size() == 1 ? static_cast<TokenId>(static_cast<unsigned char>(w[0])) : TokenId(-1);
  };
  auto run = [&](const std::string& behavior) {
    json j = byte_level_file(words, {});
    j["model"]["ignore_merges"] = true;
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    return ids_of(*load(j), "the-final--countdown");
  };
  auto want = [&](std::vector<std::string> pieces) {
    std::vector<TokenId> ids;
    for (auto& p : pieces) ids.push_back(id(p));
    return ids;
  };
  BOOST_TEST(run("Removed") == want({"the", "final", "countdown"}), boost::test_tools::per_element());
  BOOST_TEST(run("Isolated") == want({"the", "-", "final", "-", "-", "countdown"}),
             boost::test_tools::per_element());
  BOOST_TEST(run("MergedWithPrevious") == want({"the-", "final-", "-", "countdown"}),
             boost::test_tools::per_element());
  BOOST_TEST(run("MergedWithNext") == want({"the", "-final", "-", "-countdown"}),
             boost::test_tools::per_element());
  BOOST_TEST(run("Contiguous") == want({"the", "-", "final", "--", "countdown"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(added_tokens_flags_and_special_decoding) {
  json j = byte_level_file({}, {});
  j["added_tokens"] = json::array({
      {{"id", 300},
       {"content", "<|end|>"},
       {"special", true},
       {"lstrip", false},
       {"rstrip", false},
       {"single_word", false},
       {"normalized", false}},
      {{"id", 301},
       {"content", "<L>"},
       {"special", true},
       {"lstrip", true},
       {"rstrip", false},
       {"single_word", false},
       {"normalized", false}},
      {{"id", 302},
       {"content", "<R>"},
       {"special", false},
       {"lstrip", false},
       {"rstrip", true},
       {"single_word", false},
       {"normalized", false}},
      {{"id", 303},
       {"content", "cat"},
       {"special", false},
       {"lstrip", false},
       {"rstrip", false},
       {"single_word", true},
       {"normalized", false}},
      {{"id", 304},
       {"content", "<|end|>x"},
       {"special", true},
       {"lstrip", false},
       {"rstrip", false},
       {"single_word", false},
       {"normalized", false}},
  });
  auto t = load(j);
  BOOST_TEST(t->vocab_size() == 305);
  // Longest match wins at a position; lstrip eats the spaces before, rstrip the spaces after.
  BOOST_TEST(ids_of(*t, "a<|end|>xb") == std::vector<TokenId>({'a', 304, 'b'}),
             boost::test_tools::per_element());
  BOOST_TEST(ids_of(*t, "a  <L>b") == std::vector<TokenId>({'a', 301, 'b'}),
             boost::test_tools::per_element());
  BOOST_TEST(ids_of(*t, "a<R>  b") == std::vector<TokenId>({'a', 302, 'b'}),
             boost::test_tools::per_element());
  // single_word: "cat" alone is the token, inside "cats" it is not.
  BOOST_TEST(ids_of(*t, "cat") == std::vector<TokenId>({303}), boost::test_tools::per_element());
  BOOST_TEST(ids_of(*t, "cats") == std::vector<TokenId>({'c', 'a', 't', 's'}),
             boost::test_tools::per_element());
  auto e = t->encode("hi<|end|>", false);
  BOOST_TEST(e.offsets.back().first == 2u);
  BOOST_TEST(e.offsets.back().second == 9u);
  BOOST_TEST(t->decode(e.ids, false) == "hi<|end|>");
  BOOST_TEST(t->decode(e.ids, true) == "hi");
  BOOST_TEST(t->is_special(300));
  BOOST_TEST(!t->is_special(302));
  BOOST_TEST(*t->token_to_id("<R>") == 302);
  BOOST_TEST(*t->id_to_token(301) == "<L>");
  BOOST_TEST(*t->id_to_token('a') == "a");
  BOOST_TEST(*t->id_to_token(' ') == "\xC4\xA0");  // "Ġ": ByteLevel spelling of the space byte
}

BOOST_AUTO_TEST_CASE(template_processing_adds_bos_and_config_fills_fields) {
  json j = byte_level_file({}, {});
  j["added_tokens"] = json::array({{{"id", 256}, {"content", "<s>"}, {"special", true}},
                                   {{"id", 257}, {"content", "</s>"}, {"special", true}}});
  j["post_processor"] = json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel", "trim_offsets": false},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
       "pair": [],
       "special_tokens": {"<s>": {"id": "<s>", "ids": [256], "tokens": ["<s>"]}}}]})");
  json cfg = {{"bos_token", "<s>"},
              {"eos_token", {{"content", "</s>"}, {"lstrip", false}}},
              {"chat_template", json::array({{{"name", "default"}, {"template", "{{ x }}"}},
                                             {{"name", "tool_use"}, {"template", "T"}}})}};
  auto t = load(j, cfg);
  auto e = t->encode("ab", true);
  BOOST_TEST(e.ids == std::vector<TokenId>({256, 'a', 'b'}), boost::test_tools::per_element());
  BOOST_TEST(e.offsets[0].second == 0u);
  BOOST_TEST(e.offsets[1].first == 0u);
  BOOST_TEST(ids_of(*t, "ab", false) == std::vector<TokenId>({'a', 'b'}), boost::test_tools::per_element());
  BOOST_TEST(*t->bos_id == 256);
  BOOST_TEST(*t->eos_id == 257);
  BOOST_TEST(t->eos_token == "</s>");
  BOOST_TEST(!t->pad_id);
  BOOST_TEST(t->chat_template == "{{ x }}");
  BOOST_REQUIRE(t->named_chat_templates.size() == 2);
  BOOST_TEST(t->named_chat_templates[1].first == "tool_use");
}

BOOST_AUTO_TEST_CASE(offsets_survive_normalization_and_invalid_utf8) {
  json j = byte_level_file({}, {});
  j["normalizer"] = {{"type", "NFC"}};
  auto t = load(j);
  // "e" + COMBINING ACUTE (3 bytes) becomes "é" (2 bytes): both tokens of é point at the 3 input bytes.
  std::string text = "xe\xCC\x81y";
  auto e = t->encode(text, false);
  BOOST_TEST(e.ids == std::vector<TokenId>({'x', 0xC3, 0xA9, 'y'}), boost::test_tools::per_element());
  BOOST_TEST(e.offsets[1].first == 1u);
  BOOST_TEST(e.offsets[1].second == 4u);
  BOOST_TEST(e.offsets[3].first == 4u);
  BOOST_TEST(e.offsets[3].second == 5u);
  // An invalid byte becomes U+FFFD (EF BF BD) whose tokens all point at that one byte.
  auto bad = t->encode(
      "a\xFF"
      "b",
      false);
  BOOST_TEST(bad.ids == std::vector<TokenId>({'a', 0xEF, 0xBF, 0xBD, 'b'}), boost::test_tools::per_element());
  BOOST_TEST(bad.offsets[2].first == 1u);
  BOOST_TEST(bad.offsets[2].second == 2u);
  BOOST_TEST(bad.offsets[4].first == 2u);
  // Decoding repairs the partial character it is given.
  BOOST_TEST(t->decode({'a', 0xE4, 0xB8}, false) == "a\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_CASE(decode_cleans_up_spaces_when_configured) {
  json j = byte_level_file({}, {});
  std::vector<TokenId> ids = ids_of(*load(j), "a , b . I 'm");
  BOOST_TEST(load(j)->decode(ids, false) == "a , b . I 'm");
  BOOST_TEST(load(j, {{"clean_up_tokenization_spaces", true}})->decode(ids, false) == "a, b. I'm");
}

BOOST_AUTO_TEST_CASE(malformed_files_give_clear_errors) {
  std::string good = byte_level_file({"ab"}, {{"a", "b"}}).dump();
  expect_error("{\"model\": ", {"/m/tokenizer.json", "not valid JSON", "line 1"});
  expect_error("[1, 2]", {"/m/tokenizer.json", "expected a JSON object, found an array"});
  expect_error("{\"model\": 82E500}", {"/m/tokenizer.json", "not valid JSON", "number overflow"});
  expect_error("{}", {"/m/tokenizer.json: model", "missing required field"});
  json j = json::parse(good);
  j["model"]["merges"][0] = {"a", "q"};
  j["model"]["vocab"].erase("q");
  expect_error(j.dump(), {"model.merges[0]", "merge part \"q\" is not in the vocab"});
  j = json::parse(good);
  j["model"]["merges"][0] = "a b c";
  expect_error(j.dump(), {"model.merges[0]", "two parts"});
  j = json::parse(good);
  j["model"]["merges"].push_back({"b", "a"});
  expect_error(j.dump(), {"model.merges[1]", "merge result \"ba\" is not in the vocab"});
  j = json::parse(good);
  j["model"]["vocab"]["a"] = "one";
  expect_error(j.dump(), {"model.vocab.\"a\"", "expected an integer, found a string"});
  j = json::parse(good);
  j["model"]["vocab"]["zz"] = 1;
  expect_error(j.dump(), {"id 1 is also used by"});
  j = json::parse(good);
  j["model"]["vocab"]["zz"] = 99999999;
  expect_error(j.dump(),
               {"model.vocab.\"zz\"", "token id 99999999 is out of range for a vocab of 258 entries"});
  j = json::parse(good);
  j["model"]["type"] = "Unigram";
  expect_error(j.dump(), {"model.type", "unsupported model type \"Unigram\"", "tokenizer.model"});
  j = json::parse(good);
  j["normalizer"] = {{"type", "Fancy"}};
  expect_error(j.dump(), {"normalizer.type", "unsupported normalizer type \"Fancy\"", "hint: supported"});
  j = json::parse(good);
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  expect_error(j.dump(), {"pre_tokenizer.pattern", "invalid regex /(unclosed/"});
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", "x"}}}, {"behavior", "Sideways"}};
  expect_error(j.dump(), {"pre_tokenizer.behavior", "unknown split behavior \"Sideways\""});
  j = json::parse(good);
  j["added_tokens"] = json::array({{{"content", "<x>"}}});
  expect_error(j.dump(), {"added_tokens[0].id", "missing required field"});
  j = json::parse(good);
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "<bos>"}}}}}},
                         {"special_tokens", json::object()}};
  expect_error(j.dump(), {"post_processor.special_tokens", "\"<bos>\""});
  expect_error(good, {"/m/tokenizer_config.json: eos_token", "\"</s>\" is not a token"},
               R"({"eos_token": "</s>"})");
  expect_error(good, {"/m/tokenizer_config.json", "not valid JSON"}, "{oops");
}

BOOST_AUTO_TEST_CASE(metaspace_pre_tokenizer_prepend_schemes) {
  // Mistral v0.3 style: no normalizer; Metaspace turns spaces into ▁ and prepends one.
  auto make = [](const char* scheme, bool split) {
    json j = json::parse(R"({
      "added_tokens": [{"id": 1, "content": "<s>", "special": true, "normalized": false}],
      "normalizer": null,
      "decoder": {"type": "Sequence", "decoders": [{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first"},
                  {"type": "ByteFallback"}, {"type": "Fuse"}]},
      "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "merges": [["▁", "h"], ["▁h", "i"]]}})");
    j["pre_tokenizer"] = {
        {"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", scheme}, {"split", split}};
    j["model"]["vocab"] = sentencepiece_vocab();
    return load(j);
  };
  for (bool split : {false, true}) {
    auto first = make("first", split);
    BOOST_TEST(ids_of(*first, "hi hi") == std::vector<TokenId>({263, 263}), boost::test_tools::per_element());
    // After an added token the section does not start the text: no ▁ in front with "first"...
    BOOST_TEST(ids_of(*first, "<s>hi") == std::vector<TokenId>({1, 260, 261}),
               boost::test_tools::per_element());
    // ...but there is with "always".
    BOOST_TEST(ids_of(*make("always", split), "<s>hi") == std::vector<TokenId>({1, 263}),
               boost::test_tools::per_element());
    BOOST_TEST(ids_of(*make("never", split), "hi") == std::vector<TokenId>({260, 261}),
               boost::test_tools::per_element());
    auto e = first->encode("hi hi", false);
    BOOST_TEST(e.offsets[0].first == 0u);
    BOOST_TEST(e.offsets[0].second == 2u);
    BOOST_TEST(e.offsets[1].first == 2u);  // "▁hi" stands for " hi"
    BOOST_TEST(e.offsets[1].second == 5u);
    BOOST_TEST(first->decode(e.ids, false) == "hi hi");
  }
  json bad = json::parse(R"({"pre_tokenizer": {"type": "Metaspace", "prepend_scheme": "sometimes"},
                             "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  expect_error(bad.dump(), {"pre_tokenizer.prepend_scheme", "unknown prepend_scheme \"sometimes\""});
}

BOOST_AUTO_TEST_CASE(folder_with_special_tokens_map_and_chat_template_jinja) {
  std::string dir = "/tmp/fthost-test-tokdir-" + std::to_string(::getpid());
  ft::fs::remove_all(dir);
  ft::fs::make_dirs(dir);
  json j = byte_level_file({}, {});
  j["added_tokens"] = json::array({{{"id", 256}, {"content", "<s>"}, {"special", true}},
                                   {{"id", 257}, {"content", "</s>"}, {"special", true}}});
  ft::fs::write_file_atomic(dir + "/tokenizer.json", j.dump());
  // Older repos name specials in special_tokens_map.json; tokenizer_config.json wins where both do.
  ft::fs::write_file_atomic(dir + "/special_tokens_map.json",
                            R"({"bos_token": {"content": "<s>"}, "eos_token": "<s>", "pad_token": "</s>"})");
  ft::fs::write_file_atomic(dir + "/tokenizer_config.json", R"({"eos_token": "</s>"})");
  ft::fs::write_file_atomic(dir + "/chat_template.jinja", "{{ messages }}");
  auto t = ft::text::load_tokenizer(dir);
  BOOST_TEST(*t->bos_id == 256);
  BOOST_TEST(*t->eos_id == 257);
  BOOST_TEST(*t->pad_id == 257);
  BOOST_TEST(t->chat_template == "{{ messages }}");
  ft::fs::write_file_atomic(dir + "/special_tokens_map.json", R"({"bos_token": "<nope>"})");
  BOOST_CHECK_EXCEPTION(ft::text::load_tokenizer(dir), ft::Error, [](const ft::Error& e) {
    return std::string(e.what()).find("special_tokens_map.json: bos_token: \"<nope>\" is not a token") !=
           std::string::npos;
  });
  ft::fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(missing_folder_is_an_error) {
  try {
    ft::text::load_tokenizer("/nonexistent/model");
    BOOST_ERROR("expected ft::Error");
  } catch (const ft::Error& e) {
    BOOST_TEST(std::string(e.what()).find("no tokenizer in /nonexistent/model") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(sentencepiece_style_bpe_with_byte_fallback) {
  // The Llama 2 / Mistral tokenizer.json layout: Prepend("▁") + Replace(" ", "▁") normalizers, no
  // pre-tokenizer, BPE over characters with byte fallback, decoders undoing it all.
  json j = json::parse(R"({
    "added_tokens": [{"id": 1, "content": "<s>", "special": true, "normalized": false}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                   {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<s>": {"id": "<s>", "ids": [1]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
              "merges": [["▁", "h"], ["▁h", "i"]]}})");
  j["model"]["vocab"] = sentencepiece_vocab();
  auto t = load(j);
  std::string text = "hi \xE4\xB8\xAD";  // "hi 中": 中 is not in the vocab -> its three UTF-8 bytes
  auto e = t->encode(text, true);
  BOOST_TEST(e.ids == std::vector<TokenId>({1, 263, 259, 3 + 0xE4, 3 + 0xB8, 3 + 0xAD}),
             boost::test_tools::per_element());
  // "▁hi" covers the prepended ▁ (which maps to the start of the text) and "hi".
  BOOST_TEST(e.offsets[1].first == 0u);
  BOOST_TEST(e.offsets[1].second == 2u);
  BOOST_TEST(e.offsets[3].first == 3u);
  BOOST_TEST(e.offsets[5].second == 6u);
  BOOST_TEST(t->decode(e.ids, true) == text);
  BOOST_TEST(t->decode(e.ids, false) == "<s> hi \xE4\xB8\xAD");
}
