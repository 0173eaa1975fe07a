// libFuzzer target for the CSV reader: any input must parse or raise ft::Error. Feeding the bytes in two
// chunks (split where the first byte says) must give the same records as feeding them whole; records
// without a problem must survive a quote-everything round trip; the row reader over the same bytes as a
// file must return rows keyed by the header or raise ft::Error. Anything else aborts the run.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/csv.h"
#include "data/rows.h"

namespace {

struct Parsed {
  std::vector<ft::data::CsvRecord> records;
  std::string error;
};

Parsed parse(const std::vector<std::string_view>& chunks, char delim) {
  Parsed p;
  ft::data::CsvParser parser(delim);
  try {
    for (auto c : chunks) parser.feed(c, p.records);
    parser.finish(p.records, "fuzz.csv");
  } catch (const ft::Error& e) {
    p.error = e.what();
  }
  return p;
}

bool same(const Parsed& a, const Parsed& b) {
  if (a.error != b.error || a.records.size() != b.records.size()) return false;
  for (size_t i = 0; i < a.records.size(); ++i) {
    const auto &x = a.records[i], &y = b.records[i];
    if (x.fields != y.fields || x.line != y.line || x.problem != y.problem) return false;
  }
  return true;
}

std::string quote_all(const std::vector<std::string>& fields, char delim) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) s += delim;
    s += '"';
    for (char c : fields[i]) s += c == '"' ? std::string("\"\"") : std::string(1, c);
    s += '"';
  }
  return s + "\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char delim = (data[0] & 1) ? ',' : ';';
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = text.empty() ? 0 : data[0] % (text.size() + 1);
  Parsed whole = parse({text}, delim);
  Parsed split = parse({text.substr(0, cut), text.substr(cut)}, delim);
  if (!same(whole, split)) std::abort();
  int64_t last_line = 0;
  std::string again;
  std::vector<const ft::data::CsvRecord*> good;
  for (const auto& r : whole.records) {
    if (r.line <= last_line) std::abort();  // records start on strictly increasing lines
    last_line = r.line;
    if (r.fields.empty() && r.problem.empty()) std::abort();  // a blank line is no record
    if (r.problem.empty()) {
      again += quote_all(r.fields, delim);
      good.push_back(&r);
    }
  }
  if (whole.error.empty()) {
    Parsed round = parse({again}, delim);
    if (!round.error.empty() || round.records.size() != good.size()) std::abort();
    for (size_t i = 0; i < good.size(); ++i)
      if (round.records[i].fields != good[i]->fields || !round.records[i].problem.empty()) std::abort();
  }
  // The row reader over the same bytes as a file (in memory-backed /dev/shm when there is one), removed
  // when the fuzzer exits.
  struct ScratchFile {
    std::string path = std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/fuzz_csv_" +
                       std::to_string(::getpid()) + ".csv";
    ~ScratchFile() { std::remove(path.c_str()); }
  };
  static const ScratchFile scratch;
  const std::string& path = scratch.path;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  for (bool skip : {false, true}) {
    try {
      ft::data::ReadOptions o;
      o.format = "csv";
      o.delimiter = delim;
      o.skip_invalid = skip;
      auto r = ft::data::read_rows(path, o);
      for (const auto& row : r.rows)
        if (!row.value.is_object() || row.origin.rfind(path + ":", 0) != 0) std::abort();
      if (skip && static_cast<size_t>(r.skipped) + r.rows.size() + 1 != whole.records.size()) std::abort();
    } catch (const ft::Error&) {
    } catch (const std::exception& e) {
      std::fprintf(stderr, "escaped exception (not ft::Error): %s\n", e.what());
      std::abort();
    }
  }
  return 0;
}
