// fthost's side of the tokenizer conformance test and benchmark. `check` encodes the corpus with
// ft::text::load_tokenizer and compares ids and decoded text with what transformers.js wrote;
// `bench` measures single-thread encode throughput and encode_batch scaling on the same corpus.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "text/tokenizer.h"

using nlohmann::json;

namespace {

std::string base64_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;  // '=' padding
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::vector<std::string> load_corpus(const std::string& file) {
  std::vector<std::string> texts;
  for (auto& s : json::parse(ft::fs::read_file(file))) texts.push_back(base64_decode(s.get<std::string>()));
  return texts;
}

std::string show_ids(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

std::string escape(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

int check(const std::string& dir, const std::string& corpus_file, const std::string& expected_file) {
  auto tok = ft::text::load_tokenizer(dir);
  auto texts = load_corpus(corpus_file);
  json expected = json::parse(ft::fs::read_file(expected_file));
  const auto& ids = expected.at("ids");
  const auto& decoded = expected.at("decoded");
  const auto& decoded_skip = expected.at("decoded_skip");
  if (ids.size() != texts.size()) {
    std::cerr << "expected file has " << ids.size() << " rows for " << texts.size() << " corpus strings\n";
    return 2;
  }
  size_t bad_ids = 0, bad_dec = 0, bad_skip = 0, shown = 0;
  auto batch = tok->encode_batch(texts, true, 0);
  for (size_t i = 0; i < texts.size(); ++i) {
    auto want = ids[i].get<std::vector<int32_t>>();
    const auto& got = batch[i].ids;
    if (got.size() != batch[i].offsets.size()) {
      std::cerr << "row " << i << ": " << got.size() << " ids but " << batch[i].offsets.size()
                << " offsets\n";
      return 2;
    }
    if (got != want) {
      ++bad_ids;
      if (shown++ < 8)
        std::cerr << "ids differ at row " << i << " text=" << escape(texts[i])
                  << "\n  fthost:          " << show_ids(got) << "\n  transformers.js: " << show_ids(want)
                  << "\n";
    }
    std::string d = tok->decode(want, false), ds = tok->decode(want, true);
    if (d != decoded[i].get<std::string>()) {
      ++bad_dec;
      if (shown++ < 8)
        std::cerr << "decode differs at row " << i << ": fthost " << escape(d) << " vs " << decoded[i].dump()
                  << "\n";
    }
    if (ds != decoded_skip[i].get<std::string>()) {
      ++bad_skip;
      if (shown++ < 8)
        std::cerr << "decode(skip_special) differs at row " << i << ": fthost " << escape(ds) << " vs "
                  << decoded_skip[i].dump() << "\n";
    }
  }
  std::printf("%s: %zu strings; ids differ: %zu; decode differs: %zu; decode(skip_special) differs: %zu\n",
              dir.c_str(), texts.size(), bad_ids, bad_dec, bad_skip);
  return bad_ids || bad_dec || bad_skip ? 1 : 0;
}

int bench(const std::string& dir, const std::string& corpus_file, int reps, const std::vector<int>& threads) {
  auto tok = ft::text::load_tokenizer(dir);
  auto texts = load_corpus(corpus_file);
  size_t bytes = 0;
  for (auto& t : texts) bytes += t.size();
  using clock = std::chrono::steady_clock;
  // Warm-up pass (fills the word cache as transformers.js's warm-up pass fills its own).
  size_t tokens = 0;
  for (auto& t : texts) tokens += tok->encode(t, true).ids.size();
  // The fastest of `reps` passes: on a shared machine the minimum is the least disturbed figure.
  double single = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = clock::now();
    for (auto& t : texts) tok->encode(t, true);
    single = std::min(single, std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::printf("{\"bytes\": %zu, \"tokens\": %zu, \"single_s\": %.6f", bytes, tokens, single);
  for (int n : threads) {
    double s = 1e30;
    for (int r = 0; r < reps; ++r) {
      auto t1 = clock::now();
      tok->encode_batch(texts, true, n);
      s = std::min(s, std::chrono::duration<double>(clock::now() - t1).count());
    }
    std::printf(", \"batch_%d_s\": %.6f", n, s);
  }
  std::printf("}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() == 4 && a[0] == "check") return check(a[1], a[2], a[3]);
    if (a.size() >= 4 && a[0] == "bench") {
      std::vector<int> threads;
      for (size_t i = 4; i < a.size(); ++i) threads.push_back(std::stoi(a[i]));
      return bench(a[1], a[2], std::stoi(a[3]), threads);
    }
  } catch (const std::exception& e) {
    std::cerr << "tok_tool: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "usage: tok_tool check <dir> <corpus.json> <expected.json>\n"
               "       tok_tool bench <dir> <corpus.json> <reps> [threads...]\n";
  return 2;
}
