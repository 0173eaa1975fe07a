// RFC 4180 CSV: an incremental parser (bytes in, records out, each with the line it starts on) that
// holds at most one unfinished record, so files of any size stream through bounded buffers. Quoted
// fields may hold the delimiter, CR/LF and doubled quotes; CRLF and LF both end a record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ft::data {

struct CsvRecord {
  std::vector<std::string> fields;
  int64_t line = 0;     // 1-based line the record starts on
  std::string problem;  // non-empty: a quoting error in this record (the rest of its line was skipped)
};

class CsvParser {
 public:
  explicit CsvParser(char delimiter = ',') : delim_(delimiter) {}

  // Parses `chunk`; every record completed by it is appended to `out`. A blank line is no record.
  void feed(std::string_view chunk, std::vector<CsvRecord>& out);
  // End of input: completes the last record (a file need not end with a newline). A quoted field still
  // open here raises ft::Error naming the line it started on (`source` is the file name).
  void finish(std::vector<CsvRecord>& out, const std::string& source);

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted, kSkipLine, kAfterCr };
  void step(char c, std::vector<CsvRecord>& out);
  // After a field's last character: the delimiter starts the next field, a line break ends the record
  // (true); anything else is left to the caller (false).
  bool field_boundary(char c, std::vector<CsvRecord>& out);
  void start_record();
  void end_field();
  void end_record(std::vector<CsvRecord>& out);
  void fail(const std::string& problem);

  char delim_;
  State state_ = State::kFieldStart;
  int bom_seen_ = 0;  // bytes of a leading UTF-8 byte-order mark matched so far (3: done, -1: none)
  int64_t line_ = 1;  // the line being read
  CsvRecord rec_;
  std::string field_;
  bool record_started_ = false;
  int64_t quote_line_ = 0;  // where the open quoted field began
};

}  // namespace ft::data
