// SentencePiece tokenizers (tokenizer.model): a tiny BPE model with byte fallback is trained at test
// time with libsentencepiece's trainer, then loaded through load_tokenizer(): BOS/EOS from the model
// and tokenizer_config.json, specials written in text, byte fallback, offsets and decoding.
#include <boost/test/unit_test.hpp>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <string>
#include <vector>

#include <unistd.h>

#include <algorithm>

#include "core/error.h"
#include "core/fs.h"
#include "text/tokenizer.h"

using ft::text::TokenId;

namespace {

// Trains once per test run into a fresh folder; returns the folder.
const std::string& model_dir() {
  static const std::string dir = [] {
    std::string d = "/tmp/fthost-test-sp-" + std::to_string(::getpid());
    ft::fs::remove_all(d);
    ft::fs::make_dirs(d);
    std::string corpus;
    const char* lines[] = {"hello world", "the quick brown fox jumps over the lazy dog",
                           "hello there, world!", "a tokenizer splits text into pieces",
                           "world peace and hello again"};
    for (int i = 0; i < 200; ++i) corpus += std::string(lines[i % 5]) + " " + std::to_string(i) + "\n";
    ft::fs::write_file_atomic(d + "/corpus.txt", corpus);
    auto status = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + d + "/corpus.txt --model_prefix=" + d +
        "/tokenizer --vocab_size=320 --model_type=bpe --byte_fallback=true --character_coverage=1.0"
        " --hard_vocab_limit=false --minloglevel=2");
    if (!status.ok()) throw std::runtime_error("sentencepiece training failed: " + status.ToString());
    return d;
  }();
  return dir;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sentencepiece_matches_the_library_and_adds_bos) {
  auto tok = ft::text::load_tokenizer(model_dir());
  sentencepiece::SentencePieceProcessor sp;
  BOOST_REQUIRE(sp.Load(model_dir() + "/tokenizer.model").ok());
  BOOST_TEST(tok->kind() == "sentencepiece");
  BOOST_TEST(*tok->bos_id == 1);
  BOOST_TEST(*tok->eos_id == 2);
  BOOST_TEST(tok->vocab_size() == sp.GetPieceSize());
  for (std::string text : {"hello world", "the lazy fox, hello!", "  spaced   out  ", "zebra 42"}) {
    auto e = tok->encode(text, true);
    std::vector<int> want = sp.EncodeAsIds(text);
    BOOST_REQUIRE(e.ids.size() == want.size() + 1);
    BOOST_TEST(e.ids[0] == 1);
    BOOST_TEST(std::vector<TokenId>(e.ids.begin() + 1, e.ids.end()) ==
                   std::vector<TokenId>(want.begin(), want.end()),
               boost::test_tools::per_element());
    BOOST_TEST(tok->decode(e.ids, true) == sp.DecodeIds(want));
    BOOST_TEST(tok->encode(text, false).ids.size() == want.size());
  }
}

BOOST_AUTO_TEST_CASE(sentencepiece_specials_byte_fallback_offsets) {
  auto tok = ft::text::load_tokenizer(model_dir());
  // "</s>" written in text is the EOS id, as HF tokenizers match special tokens in text.
  auto e = tok->encode("hello</s>world", false);
  BOOST_TEST(std::count(e.ids.begin(), e.ids.end(), 2) == 1);
  BOOST_TEST(tok->decode(e.ids, false) == "hello</s>world");
  // Each stretch between specials is its own SentencePiece input with a dummy prefix "▁", as in HF's
  // legacy Llama tokenizer, so "world" comes back with its space.
  BOOST_TEST(tok->decode(e.ids, true) == "hello world");
  // Characters the model never saw fall back to byte pieces <0xE4><0xB8><0xAD> and decode back.
  auto cjk = tok->encode("\xE4\xB8\xAD", false);
  BOOST_TEST(tok->decode(cjk.ids, false) == "\xE4\xB8\xAD");
  bool has_byte_piece = false;
  for (TokenId id : cjk.ids) has_byte_piece |= *tok->id_to_token(id) == "<0xE4>";
  BOOST_TEST(has_byte_piece);
  // Offsets cover the input bytes, in order.
  std::string text = "hello world";
  auto o = tok->encode(text, true);
  BOOST_TEST(o.offsets[0].first == 0u);
  BOOST_TEST(o.offsets[0].second == 0u);
  BOOST_TEST(o.offsets.back().second == text.size());
  for (size_t i = 2; i < o.offsets.size(); ++i) BOOST_TEST(o.offsets[i].first == o.offsets[i - 1].second);
}

BOOST_AUTO_TEST_CASE(sentencepiece_config_controls_bos_eos) {
  std::string d = model_dir() + "-cfg";
  ft::fs::remove_all(d);
  ft::fs::make_dirs(d);
  ft::fs::write_file_atomic(d + "/tokenizer.model", ft::fs::read_file(model_dir() + "/tokenizer.model"));
  ft::fs::write_file_atomic(d + "/tokenizer_config.json",
                            R"({"add_bos_token": false, "add_eos_token": true, "chat_template": "{{ x }}"})");
  auto tok = ft::text::load_tokenizer(d);
  auto e = tok->encode("hello", true);
  BOOST_TEST(e.ids.front() != 1);
  BOOST_TEST(e.ids.back() == 2);
  BOOST_TEST(tok->chat_template == "{{ x }}");
  ft::fs::write_file_atomic(d + "/tokenizer.model", "not a model");
  BOOST_CHECK_EXCEPTION(ft::text::load_tokenizer(d), ft::Error, [](const ft::Error& err) {
    return std::string(err.what()).find("tokenizer.model: cannot load SentencePiece model") !=
           std::string::npos;
  });
}
