// The byte tokenizer's id layout, specials, round trips, offsets, and batch encoding across threads.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "text/tokenizer.h"

using ft::text::TokenId;

BOOST_AUTO_TEST_CASE(byte_tokenizer_layout) {
  auto tok = ft::text::make_byte_tokenizer();
  BOOST_TEST(tok->kind() == "bytes");
  BOOST_TEST(tok->vocab_size() == 259);
  BOOST_TEST(*tok->bos_id == 256);
  BOOST_TEST(*tok->eos_id == 257);
  BOOST_TEST(*tok->pad_id == 258);
  BOOST_TEST(tok->eos_token == "<eos>");
  BOOST_TEST(*tok->token_to_id("<pad>") == 258);
  BOOST_TEST(*tok->token_to_id("A") == 65);
  BOOST_TEST(!tok->token_to_id("AB"));
  BOOST_TEST(*tok->id_to_token(257) == "<eos>");
  BOOST_TEST(!tok->id_to_token(259));
  BOOST_TEST(tok->is_special(256));
  BOOST_TEST(!tok->is_special(255));
}

BOOST_AUTO_TEST_CASE(byte_tokenizer_encode_decode) {
  auto tok = ft::text::make_byte_tokenizer();
  std::string text = "h\xC3\xA9<eos>!";  // "hé<eos>!"
  auto e = tok->encode(text, true);
  std::vector<TokenId> want = {256, 104, 0xC3, 0xA9, 257, 33};
  BOOST_TEST(e.ids == want, boost::test_tools::per_element());
  BOOST_REQUIRE(e.offsets.size() == 6);
  BOOST_TEST(e.offsets[0].first == 0u);
  BOOST_TEST(e.offsets[0].second == 0u);
  BOOST_TEST(e.offsets[4].first == 3u);
  BOOST_TEST(e.offsets[4].second == 8u);
  BOOST_TEST(e.offsets[5].first == 8u);
  BOOST_TEST(tok->decode(e.ids, false) == "<bos>" + text);
  BOOST_TEST(tok->decode(e.ids, true) == "h\xC3\xA9!");
  BOOST_TEST(tok->encode("", false).ids.empty());
  // Invalid UTF-8 survives the round trip byte for byte.
  std::string bad = "\xFF\xFE\x80";
  BOOST_TEST(tok->decode(tok->encode(bad, false).ids, false) == bad);
}

BOOST_AUTO_TEST_CASE(encode_batch_matches_sequential_in_order) {
  auto tok = ft::text::make_byte_tokenizer();
  std::vector<std::string> texts;
  for (int i = 0; i < 500; ++i) texts.push_back(std::string(static_cast<size_t>(i % 37), 'a' + i % 26));
  for (int threads : {0, 1, 2, 7}) {
    auto batch = tok->encode_batch(texts, true, threads);
    BOOST_REQUIRE(batch.size() == texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      auto one = tok->encode(texts[i], true);
      BOOST_TEST(batch[i].ids == one.ids);
      BOOST_TEST((batch[i].offsets == one.offsets));
    }
  }
  BOOST_TEST(tok->encode_batch({}, false, 4).empty());
}
