// host/data: JSONL and CSV readers (errors name file and line, bounded streaming), row formats and label
// masks, truncation, right padding, rank-aware deterministic sampling with group_by_length.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <set>

#include "core/error.h"
#include "data/batch.h"
#include "data/csv.h"
#include "data/format.h"
#include "data/json_line.h"
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
  std::string msg =
      error_of([&] { data::format_rows({row(R"({"question":"x"})", "d.jsonl:7")}, *tok, nullptr, o); });
  BOOST_TEST(
      msg.find(
          "d.jsonl:7: row has none of the fields text, prompt/completion or messages (found: question)") !=
          std::string::npos,
      msg);
  msg = error_of([&] { data::format_rows({row(R"({"prompt":"x"})", "d.jsonl:8")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("d.jsonl:8: row has 'prompt' but no 'completion' field") != std::string::npos, msg);
  msg = error_of(
      [&] { data::format_rows({row(R"({"prompt":"x","completion":""})", "d.jsonl:9")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("d.jsonl:9: empty completion") != std::string::npos, msg);
  msg = error_of(
      [&] { data::format_rows({row(R"({"prompt":"x","completion":5})", "d.jsonl:10")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("d.jsonl:10: field 'completion' must be a string, found number") != std::string::npos,
             msg);
  msg = error_of([&] {
    data::format_rows({row(R"({"messages":[{"role":"user","content":"hi"}]})", "c.jsonl:2")}, *tok, nullptr,
                      o);
  });
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
  std::string msg = error_of([&] {
    data::format_rows({row(R"({"prompt":"abcdefgh","completion":"x"})", "l.jsonl:3")}, *tok, nullptr, o);
  });
  BOOST_TEST(
      msg.find("l.jsonl:3: after truncation to max_len 6 no completion token is left") != std::string::npos,
      msg);
  o.truncate = false;
  msg =
      error_of([&] { data::format_rows({row(R"({"text":"abcdefghij"})", "l.jsonl:4")}, *tok, nullptr, o); });
  BOOST_TEST(msg.find("l.jsonl:4: sample has 12 tokens, more than max_len 6") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(messages_mask_assistant_turns_only) {
  auto tok = text::make_byte_tokenizer();
  text::ChatTemplate tmpl(
      "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt "
      "%}<assistant>{% endif %}");
  data::FormatOptions o;
  o.add_eos = false;
  auto r = data::format_rows(
      {row(R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]})")}, *tok,
      &tmpl, o);
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
  std::vector<int64_t> ids = {1, 2, 3, 4, 9, 9}, mask = {1, 1, 1, 1, 0, 0},
                       labels = {-100, 2, 3, 4, -100, -100};
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

// ---- CSV ----------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(csv_rfc4180_quotes_newlines_crlf_bom) {
  // A BOM, CRLF line ends, a quoted field with a comma, a doubled quote and a line break, an empty
  // field, a blank line, and no newline at the end.
  auto p = write_tmp("ok.csv",
                     "\xEF\xBB\xBFprompt,completion,note\r\n"
                     "\"1+1=\",2,\r\n"
                     "\"say \"\"hi\"\", then\",\"two\r\nlines\",x\r\n"
                     "\r\n"
                     "a,b,\"\"");
  auto r = data::read_csv(p);
  BOOST_TEST_REQUIRE(r.rows.size() == 3u);
  BOOST_TEST((r.rows[0].value == nlohmann::json{{"prompt", "1+1="}, {"completion", "2"}, {"note", ""}}));
  BOOST_TEST((r.rows[1].value["prompt"] == "say \"hi\", then"));
  BOOST_TEST((r.rows[1].value["completion"] == "two\r\nlines"));
  BOOST_TEST(r.rows[0].origin == p + ":2");
  BOOST_TEST(r.rows[1].origin == p + ":3");
  BOOST_TEST(r.rows[2].origin == p + ":6");  // the quoted line break counted, then the blank line 5
  BOOST_TEST((r.rows[2].value["note"] == ""));
  // TSV by extension, or any delimiter.
  auto t = write_tmp("ok.tsv", "a\tb\n1,5\t2\n");
  auto rt = data::read_rows(t);
  BOOST_TEST((rt.rows.at(0).value == nlohmann::json{{"a", "1,5"}, {"b", "2"}}));
  data::ReadOptions semi;
  semi.format = "csv";
  semi.delimiter = ';';
  auto s = write_tmp("semi.txt", "a;b\n\"x;y\";z\n");
  BOOST_TEST((data::read_rows(s, semi).rows.at(0).value["a"] == "x;y"));
  // An empty header cell is named as pandas names it.
  auto u = write_tmp("unnamed.csv", ",text\n0,hello\n");
  BOOST_TEST((data::read_csv(u).rows.at(0).value == nlohmann::json{{"Unnamed: 0", "0"}, {"text", "hello"}}));
}

BOOST_AUTO_TEST_CASE(csv_errors_name_file_and_line) {
  auto p = write_tmp("count.csv", "a,b,c,d\n1,2,3,4\n\"x\ny\",2,3,4\n1,2,3\n5,6,7,8\n");
  std::string msg = error_of([&] { data::read_csv(p); });
  BOOST_TEST(msg.find(p + ":5: row has 3 fields, the header (line 1) has 4") != std::string::npos, msg);
  BOOST_TEST(msg.find("hint: quote fields that contain the delimiter") != std::string::npos, msg);
  data::ReadOptions skip;
  skip.skip_invalid = true;
  auto r = data::read_csv(p, skip);
  BOOST_TEST(r.rows.size() == 3u);
  BOOST_TEST(r.skipped == 1);
  BOOST_TEST(r.rows[2].origin == p + ":6");

  auto q = write_tmp("quote.csv", "a,b\n1,x\"y\n2,\"z\"w\n3,ok\n");
  msg = error_of([&] { data::read_csv(q); });
  BOOST_TEST(msg.find(q + ":2: a '\"' inside an unquoted field") != std::string::npos, msg);
  auto rq = data::read_csv(q, skip);  // the bad records are skipped, the parse resumes on the next line
  BOOST_TEST(rq.skipped == 2);
  BOOST_TEST_REQUIRE(rq.rows.size() == 1u);
  BOOST_TEST((rq.rows[0].value["b"] == "ok"));
  auto q2 = write_tmp("after.csv", "a,b\n2,\"z\"w\n");
  msg = error_of([&] { data::read_csv(q2); });
  BOOST_TEST(
      msg.find(q2 + ":2: text after the closing quote of a field (expected ',' or the end of the line)") !=
          std::string::npos,
      msg);

  auto open = write_tmp("open.csv", "a,b\n1,2\n3,\"never\nclosed\n");
  msg = error_of([&] { data::read_csv(open, skip); });  // cannot be skipped: the rest of the file is in it
  BOOST_TEST(
      msg.find(open + ":3: a quoted field is not closed before the end of the file") != std::string::npos,
      msg);

  auto dup = write_tmp("dup.csv", "text,text\n1,2\n");
  msg = error_of([&] { data::read_csv(dup); });
  BOOST_TEST(msg.find(dup + ":1: the header names column 'text' twice") != std::string::npos, msg);
  auto empty = write_tmp("empty.csv", "");
  msg = error_of([&] { data::read_csv(empty); });
  BOOST_TEST(msg.find(empty + ": the file is empty, expected a header row") != std::string::npos, msg);
  msg = error_of([&] { data::read_rows(write_tmp("x.parquet", "")); });
  BOOST_TEST(msg.find("cannot tell the format of") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(csv_parser_gives_the_same_records_fed_byte_by_byte) {
  const std::string text = "\xEF\xBB\xBFh1,h2\r\n\"a\"\"b\",\"c\nd\"\r\n\ne,\rf,g\n\"x\"y,1\nlast,\"\"";
  std::vector<data::CsvRecord> whole, bytes;
  data::CsvParser a, b;
  a.feed(text, whole);
  a.finish(whole, "t.csv");
  for (char c : text) b.feed(std::string_view(&c, 1), bytes);
  b.finish(bytes, "t.csv");
  BOOST_TEST_REQUIRE(whole.size() == bytes.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    BOOST_TEST(whole[i].fields == bytes[i].fields, boost::test_tools::per_element());
    BOOST_TEST(whole[i].line == bytes[i].line);
    BOOST_TEST(whole[i].problem == bytes[i].problem);
  }
  // h1,h2 | a"b, c<LF>d | e, (bare CR ends it) | f,g | "x"y (bad) | last, ""
  BOOST_TEST_REQUIRE(whole.size() == 6u);
  BOOST_TEST(whole[0].fields[0] == "h1");  // no BOM in the first name
  BOOST_TEST(whole[1].fields[0] == "a\"b");
  BOOST_TEST(whole[1].fields[1] == "c\nd");
  BOOST_TEST(whole[2].line == 5);
  BOOST_TEST(whole[2].fields.size() == 2u);
  BOOST_TEST(whole[3].line == 6);
  BOOST_TEST(!whole[4].problem.empty());
  BOOST_TEST(whole[5].fields[1] == "");
}

// ---- streaming ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(row_reader_streams_without_reading_ahead) {
  std::string text;
  const std::string line = "{\"text\":\"" + std::string(200, 'x') + "\"}\n";
  for (int i = 0; i < 5000; ++i) text += line;  // ~1 MB
  auto p = write_tmp("stream.jsonl", text);
  auto reader = data::open_rows(p);
  data::Row r;
  BOOST_TEST(reader->next(r));
  BOOST_TEST(r.origin == p + ":1");
  BOOST_TEST(reader->bytes_read() == line.size());  // one line taken, not the file
  int64_t n = 1;
  while (reader->next(r)) ++n;
  BOOST_TEST(n == 5000);
  BOOST_TEST(reader->bytes_read() == text.size());
  // CSV reads in fixed chunks, not the whole file.
  std::string csv = "text\n";
  for (int i = 0; i < 5000; ++i) csv += std::string(200, 'y') + "\n";
  auto c = data::open_rows(write_tmp("stream.csv", csv));
  BOOST_TEST(c->next(r));
  BOOST_TEST(c->bytes_read() <= 65536u);
  data::ReadOptions lim;
  lim.limit = 3;
  BOOST_TEST(data::read_rows(p, lim).rows.size() == 3u);
}

// ---- group_by_length ----------------------------------------------------------------------------

namespace {

std::vector<int64_t> random_lengths(int64_t n, uint64_t seed) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(1 + static_cast<int64_t>(data::splitmix64(seed) % 200));
  return out;
}

// Padding tokens of all batches of an epoch, over every rank.
int64_t epoch_padding(const std::vector<int64_t>& len, data::SamplerOptions o) {
  int64_t pad = 0;
  for (int r = 0; r < o.world_size; ++r) {
    o.rank = r;
    data::Sampler s(static_cast<int64_t>(len.size()), o, len);
    for (int64_t b = 0; b < s.batches_per_epoch(); ++b) {
      int64_t mx = 0, sum = 0;
      for (auto i : s.batch(b)) {
        mx = std::max(mx, len[i]);
        sum += len[i];
      }
      pad += mx * o.batch_size - sum;
    }
  }
  return pad;
}

}  // namespace

BOOST_AUTO_TEST_CASE(group_by_length_lowers_padding_deterministically_across_ranks) {
  const int64_t n = 1000;
  auto len = random_lengths(n, 17);
  data::SamplerOptions o;
  o.batch_size = 4;
  o.world_size = 2;
  o.seed = 3;
  const int64_t plain = epoch_padding(len, o);
  o.group_by_length = true;
  const int64_t grouped = epoch_padding(len, o);
  BOOST_TEST_MESSAGE("padding tokens per epoch: " << plain << " plain, " << grouped << " grouped");
  BOOST_TEST(grouped * 5 < plain, grouped << " vs " << plain);  // measured: about 10x less

  data::Sampler s(n, o, len);
  BOOST_TEST(s.megabatch_size() == 8 * 31);  // min(1000 / (4 * 8), 50) step batches
  auto acc = o;
  acc.grad_accum = 4;  // a step batch of 32: min(1000 / 128, 50) = 7 of them
  BOOST_TEST(data::Sampler(n, acc, len).megabatch_size() == 32 * 7);
  const auto order = s.epoch_order(0);
  // The longest example of the epoch is first; megabatches after the first are sorted longest first.
  BOOST_TEST(len[order[0]] == *std::max_element(len.begin(), len.end()));
  for (int64_t start = s.megabatch_size(); start < n; start += s.megabatch_size())
    for (int64_t i = start + 1; i < std::min(n, start + s.megabatch_size()); ++i)
      BOOST_TEST(len[order[i - 1]] >= len[order[i]]);
  // A permutation of all examples, different per epoch and per seed, the same for the same seed.
  std::set<int64_t> all(order.begin(), order.end());
  BOOST_TEST(all.size() == static_cast<size_t>(n));
  BOOST_TEST((s.epoch_order(1) != order));
  BOOST_TEST((data::Sampler(n, o, len).epoch_order(0) == order));
  auto o2 = o;
  o2.seed = 4;
  BOOST_TEST((data::Sampler(n, o2, len).epoch_order(0) != order));
  // Ranks partition each global batch exactly: rank r takes slice r of global batch b.
  std::set<int64_t> seen;
  for (int r = 0; r < 2; ++r) {
    o.rank = r;
    data::Sampler sr(n, o, len);
    for (int64_t b = 0; b < sr.batches_per_epoch(); ++b) {
      auto idx = sr.batch(b);
      for (int64_t k = 0; k < o.batch_size; ++k) {
        BOOST_TEST(idx[k] == order[(b * 2 + r) * o.batch_size + k]);
        BOOST_TEST(seen.insert(idx[k]).second);
      }
    }
  }
  BOOST_TEST(seen.size() == static_cast<size_t>(s.batches_per_epoch() * 8));
  std::string msg = error_of([&] { data::Sampler(5, o, {1, 2}); });
  BOOST_TEST(msg.find("group_by_length: 2 lengths given for 5 examples") != std::string::npos, msg);
}

// ---- JSONL fast path ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(json_fast_path_agrees_with_nlohmann_or_declines) {
  // Accepted: the value equals nlohmann's, number types included.
  for (const std::string ok : {R"({"prompt":"1+1=","completion":"2"})",
                               R"( {"a":[1,-2,true,false,null,{}],"b":"x\"\\\/\b\f\n\r\t"} )",
                               R"({"u":"h\u00e9 \ud83d\ude00 \u20ac","v":"é€😀"})", R"({"k":1,"k":2})",
                               R"("just a string")", R"({"big":999999999999999999,"neg":-0})"}) {
    nlohmann::json fast;
    BOOST_TEST_REQUIRE(data::parse_json_fast(ok, fast), ok);
    auto ref = nlohmann::json::parse(ok);
    BOOST_TEST(fast.dump() == ref.dump(), ok);
  }
  // Declined (nlohmann decides): floats, 19+ digit integers, a BOM, bad escapes, lone surrogates,
  // invalid UTF-8 (overlong, surrogate, above U+10FFFF), raw control characters, trailing text.
  for (const std::string no :
       {R"({"f":1.5})", R"({"e":1e3})", R"({"i":1234567890123456789})", "\xEF\xBB\xBF{}", R"({"s":"\x"})",
        R"({"s":"\udc00"})", R"({"s":"\ud800x"})", "{\"s\":\"\xC0\x80\"}", "{\"s\":\"\xED\xA0\x80\"}",
        "{\"s\":\"\xF4\x90\x80\x80\"}", "{\"s\":\"a\tb\"}", R"({"a":1} x)", R"({"a":01})", R"({"a":1,})",
        R"([1 2])", ""}) {
    nlohmann::json fast;
    BOOST_TEST(!data::parse_json_fast(no, fast), no);
  }
  std::string deep(100, '['), close(100, ']');
  nlohmann::json j;
  BOOST_TEST(!data::parse_json_fast(deep + close, j));
  // Through the reader: declined lines still parse (floats) or fail with nlohmann's verdict.
  auto p = write_tmp("mixed.jsonl", "{\"x\":1.25,\"s\":\"\\u00e9\"}\n{\"y\":[1,2]}\n");
  auto r = data::read_jsonl(p);
  BOOST_TEST((r.rows.at(0).value["x"] == 1.25));
  BOOST_TEST((r.rows.at(0).value["s"] == "\xC3\xA9"));
  BOOST_TEST((r.rows.at(1).value["y"] == nlohmann::json::array({1, 2})));
}

BOOST_AUTO_TEST_CASE(messages_without_content_name_the_row_and_message) {
  auto tok = text::make_byte_tokenizer();
  text::ChatTemplate tmpl("{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}");
  data::FormatOptions o;
  std::string msg = error_of([&] {
    data::format_rows(
        {row(R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant"}]})", "c.jsonl:3")}, *tok,
        &tmpl, o);
  });
  BOOST_TEST(msg.find("c.jsonl:3: messages[2] (role 'assistant') has no 'content'") != std::string::npos,
             msg);
  msg = error_of([&] {
    data::format_rows({row(R"({"messages":[{"role":"user","content":7}]})", "c.jsonl:4")}, *tok, &tmpl, o);
  });
  BOOST_TEST(
      msg.find("c.jsonl:4: messages[1]: 'content' must be a string or a list of parts, found number") !=
          std::string::npos,
      msg);
  o.skip_bad = true;
  auto r = data::format_rows(
      {row(R"({"messages":[{"role":"assistant"}]})", "c.jsonl:5"),
       row(R"({"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]})")},
      *tok, &tmpl, o);
  BOOST_TEST(r.examples.size() == 1u);
  BOOST_TEST(r.skipped == 1);
  BOOST_TEST(r.first_skip == "c.jsonl:5: messages[1] (role 'assistant') has no 'content'");
}
