// host/data: JSONL errors name file and line, row formats and label masks, truncation, right padding,
// rank-aware deterministic sampling.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <fstream>
#include <functional>
#include <set>

#include "core/error.h"
#include "data/batch.h"
#include "data/format.h"
#include "data/rows.h"

using namespace ft;

namespace {

std::string write_tmp(const std::string& name, const std::string& text) {
  std::string p = "/tmp/ft_train_test_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(p) << text;
  return p;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

data::Row row(const std::string& json, const std::string& origin = "t.jsonl:1") {
  return {nlohmann::json::parse(json), origin};
}

}  // namespace

BOOST_AUTO_TEST_CASE(jsonl_reads_rows_with_origins) {
  auto p = write_tmp("ok.jsonl", "{\"text\":\"a\"}\n\n{\"text\":\"b\"}\r\n");
  auto r = data::read_jsonl(p);
  BOOST_TEST(r.rows.size() == 2u);
  BOOST_TEST(r.rows[1].origin == p + ":3");
  BOOST_TEST((r.rows[1].value["text"] == "b"));
}

BOOST_AUTO_TEST_CASE(jsonl_invalid_line_names_file_and_line) {
  auto p = write_tmp("bad.jsonl", "{\"text\":\"a\"}\n{\"text\": oops}\n");
  std::string msg = error_of([&] { data::read_jsonl(p); });
  BOOST_TEST(msg.find(p + ":2: invalid JSON") != std::string::npos, msg);
  data::ReadOptions o;
  o.skip_invalid = true;
  auto r = data::read_jsonl(p, o);
  BOOST_TEST(r.rows.size() == 1u);
  BOOST_TEST(r.skipped == 1);
  auto q = write_tmp("arr.jsonl", "[1,2]\n");
  msg = error_of([&] { data::read_jsonl(q); });
  BOOST_TEST(msg.find(q + ":1: expected a JSON object, found array") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(prompt_completion_masks_prompt_and_appends_eos) {
  auto tok = text::make_byte_tokenizer();
  data::FormatOptions o;
  auto r = data::format_rows({row(R"({"prompt":"1+2=","completion":"3"})")}, *tok, nullptr, o);
  const auto& ex = r.examples.at(0);
  // <bos> 1 + 2 = | 3 <eos>
  std::vector<int32_t> ids = {256, '1', '+', '2', '=', '3', 257};
  std::vector<int32_t> labels = {-100, -100, -100, -100, -100, '3', 257};
  BOOST_TEST(ex.ids == ids, boost::test_tools::per_element());
  BOOST_TEST(ex.labels == labels, boost::test_tools::per_element());
  BOOST_TEST(ex.label_tokens() == 2);
  o.train_on_inputs = true;
  auto all = data::format_rows({row(R"({"prompt":"1+2=","completion":"3"})")}, *tok, nullptr, o);
  BOOST_TEST(all.examples[0].labels == ids, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_rows_name_their_origin) {
  auto tok = text::make_byte_tokenizer();
  data::FormatOptions o;
  std::string msg = error_of([&] { data::format_rows({row(R"({"question":"x"})", "d.jsonl:7")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("d.jsonl:7: row has none of the fields text, prompt/completion or messages (found: question)") !=
                 std::string::npos,
             msg);
  msg = error_of([&] { data::format_rows({row(R"({"prompt":"x"})", "d.jsonl:8")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("d.jsonl:8: row has 'prompt' but no 'completion' field") != std::string::npos, msg);
  msg = error_of([&] { data::format_rows({row(R"({"prompt":"x","completion":""})", "d.jsonl:9")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("d.jsonl:9: empty completion") != std::string::npos, msg);
  msg = error_of([&] { data::format_rows({row(R"({"prompt":"x","completion":5})", "d.jsonl:10")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("d.jsonl:10: field 'completion' must be a string, found number") != std::string::npos, msg);
  msg = error_of([&] { data::format_rows({row(R"({"messages":[{"role":"user","content":"hi"}]})", "c.jsonl:2")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("c.jsonl:2: a 'messages' row needs a chat template") != std::string::npos, msg);
  o.skip_bad = true;
  auto r = data::format_rows({row(R"({"q":1})"), row(R"({"text":"ok"})")}, *tok, nullptr, o);
  BOOST_TEST(r.examples.size() == 1u);
  BOOST_TEST(r.skipped == 1);
}

BOOST_AUTO_TEST_CASE(truncation_and_over_long_errors) {
  auto tok = text::make_byte_tokenizer();
  data::FormatOptions o;
  o.max_len = 6;
  auto r = data::format_rows({row(R"({"text":"abcdefghij"})")}, *tok, nullptr, o);
  BOOST_TEST(r.examples[0].ids.size() == 6u);
  BOOST_TEST(r.truncated == 1);
  std::string msg = error_of([&] { data::format_rows({row(R"({"prompt":"abcdefgh","completion":"x"})", "l.jsonl:3")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("l.jsonl:3: after truncation to max_len 6 no completion token is left") != std::string::npos, msg);
  o.truncate = false;
  msg = error_of([&] { data::format_rows({row(R"({"text":"abcdefghij"})", "l.jsonl:4")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("l.jsonl:4: sample has 12 tokens, more than max_len 6") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(messages_mask_assistant_turns_only) {
  auto tok = text::make_byte_tokenizer();
  text::ChatTemplate tmpl(
      "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
  data::FormatOptions o;
  o.add_eos = false;
  auto r = data::format_rows(
      {row(R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]})")}, *tok, &tmpl, o);
  const auto& ex = r.examples.at(0);
  std::string labelled;
  for (size_t i = 0; i < ex.ids.size(); ++i)
    if (ex.labels[i] != data::kIgnoreIndex) labelled += static_cast<char>(ex.ids[i]);
  BOOST_TEST(labelled == "yo\n");  // the assistant content and the template's turn end, not "<assistant>"
}

BOOST_AUTO_TEST_CASE(collate_pads_right) {
  data::Example a{{1, 2, 3}, {-100, 2, 3}, {}}, b{{4}, {4}, {}};
  auto bt = data::collate({&a, &b}, 9);
  BOOST_TEST(bt.rows == 2);
  BOOST_TEST(bt.cols == 3);
  std::vector<int64_t> ids = {1, 2, 3, 4, 9, 9}, mask = {1, 1, 1, 1, 0, 0}, labels = {-100, 2, 3, 4, -100, -100};
  BOOST_TEST(bt.input_ids == ids, boost::test_tools::per_element());
  BOOST_TEST(bt.attention_mask == mask, boost::test_tools::per_element());
  BOOST_TEST(bt.labels == labels, boost::test_tools::per_element());
  BOOST_TEST(bt.label_tokens == 2);  // position 0 is never a target
}

BOOST_AUTO_TEST_CASE(sampler_is_deterministic_and_rank_aware) {
  data::SamplerOptions o;
  o.batch_size = 3;
  o.seed = 5;
  o.world_size = 2;
  std::set<int64_t> seen;
  for (int rank = 0; rank < 2; ++rank) {
    o.rank = rank;
    data::Sampler s(20, o);
    BOOST_TEST(s.batches_per_epoch() == 3);  // 20 / (3 * 2)
    for (int64_t b = 0; b < 3; ++b)
      for (auto i : s.batch(b)) BOOST_TEST(seen.insert(i).second);  // ranks never share an example
    data::Sampler again(20, o);
    BOOST_TEST(again.batch(4) == s.batch(4), boost::test_tools::per_element());
  }
  BOOST_TEST(seen.size() == 18u);
  o.rank = 0;
  data::Sampler s(20, o);
  BOOST_TEST((s.epoch_order(0) != s.epoch_order(1)));
  std::string msg = error_of([&] { data::Sampler(5, o); });
  BOOST_TEST(msg.find("fewer than one global batch") != std::string::npos, msg);
}
