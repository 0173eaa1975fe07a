// The RFC 4180 state machine behind CsvParser (see csv.h). Quoting errors do not stop the parse: the
// record is marked with the problem and the rest of its line skipped, so a reader can count and skip it.
#include "data/csv.h"

#include "core/error.h"

namespace ft::data {

namespace {
constexpr unsigned char kBom[3] = {0xEF, 0xBB, 0xBF};
}

void CsvParser::start_record() {
  if (record_started_) return;
  record_started_ = true;
  rec_.line = line_;
}

void CsvParser::end_field() {
  rec_.fields.push_back(std::move(field_));
  field_.clear();
}

void CsvParser::end_record(std::vector<CsvRecord>& out) {
  out.push_back(std::move(rec_));
  rec_ = CsvRecord();
  record_started_ = false;
}

void CsvParser::fail(const std::string& problem) {
  rec_.problem = problem;
  field_.clear();
  state_ = State::kSkipLine;
}

bool CsvParser::field_boundary(char c, std::vector<CsvRecord>& out) {
  if (c == delim_) {
    end_field();
    state_ = State::kFieldStart;
    return true;
  }
  if (c != '\n' && c != '\r') return false;
  end_field();
  end_record(out);
  ++line_;
  state_ = c == '\r' ? State::kAfterCr : State::kFieldStart;
  return true;
}

void CsvParser::step(char c, std::vector<CsvRecord>& out) {
  switch (state_) {
    case State::kAfterCr:  // a CR ended the record; an LF right after it belongs to the same line end
      state_ = State::kFieldStart;
      if (c == '\n') return;
      [[fallthrough]];
    case State::kFieldStart:
      if (c == '"') {
        start_record();
        quote_line_ = line_;
        state_ = State::kQuoted;
      } else if (c == delim_) {
        start_record();
        end_field();
      } else if (c == '\n' || c == '\r') {
        if (record_started_) {  // "a,<newline>": the last field is empty
          end_field();
          end_record(out);
        }  // else a blank line: no record
        ++line_;
        if (c == '\r') state_ = State::kAfterCr;
      } else {
        start_record();
        field_ += c;
        state_ = State::kUnquoted;
      }
      return;
    case State::kUnquoted:
      if (field_boundary(c, out)) return;
      if (c == '"')
        fail("a '\"' inside an unquoted field");
      else
        field_ += c;
      return;
    case State::kQuoted:
      if (c == '"') {
        state_ = State::kQuoteInQuoted;
      } else {
        if (c == '\n') ++line_;
        field_ += c;
      }
      return;
    case State::kQuoteInQuoted:
      if (c == '"') {  // a doubled quote is one quote character
        field_ += '"';
        state_ = State::kQuoted;
      } else if (!field_boundary(c, out)) {
        fail(std::string("text after the closing quote of a field (expected '") + delim_ +
             "' or the end of the line)");
      }
      return;
    case State::kSkipLine:
      if (c == '\n') {
        end_record(out);
        ++line_;
        state_ = State::kFieldStart;
      }
      return;
  }
}

void CsvParser::feed(std::string_view chunk, std::vector<CsvRecord>& out) {
  size_t i = 0;
  // A leading UTF-8 byte-order mark (as Excel writes it) is not part of the first header name. It may be
  // split across chunks; bytes that turn out not to be a BOM are parsed as data.
  while (bom_seen_ >= 0 && bom_seen_ < 3 && i < chunk.size()) {
    if (static_cast<unsigned char>(chunk[i]) == kBom[bom_seen_]) {
      ++bom_seen_;
      ++i;
    } else {
      const int matched = bom_seen_;
      bom_seen_ = -1;
      for (int k = 0; k < matched; ++k) step(static_cast<char>(kBom[k]), out);
    }
  }
  const size_t n = chunk.size();
  for (; i < n; ++i) {
    // Inside a field, copy the run of ordinary characters up to the next one that matters in one go.
    if (state_ == State::kQuoted || state_ == State::kUnquoted) {
      size_t j = i;
      if (state_ == State::kQuoted)
        while (j < n && chunk[j] != '"' && chunk[j] != '\n') ++j;
      else
        while (j < n && chunk[j] != delim_ && chunk[j] != '\n' && chunk[j] != '\r' && chunk[j] != '"') ++j;
      field_.append(chunk.data() + i, j - i);
      i = j;
      if (i == n) break;
    }
    step(chunk[i], out);
  }
}

void CsvParser::finish(std::vector<CsvRecord>& out, const std::string& source) {
  if (bom_seen_ > 0 && bom_seen_ < 3) {  // a file holding only the start of a BOM
    const int matched = bom_seen_;
    bom_seen_ = -1;
    for (int k = 0; k < matched; ++k) step(static_cast<char>(kBom[k]), out);
  }
  switch (state_) {
    case State::kQuoted:
      throw Error(
          source + ":" + std::to_string(quote_line_) +
              ": a quoted field is not closed before the end of the file",
          "a field that starts with '\"' must end with '\"'; a quote inside it is written twice (\"\")");
    case State::kFieldStart:
      if (!record_started_) break;
      [[fallthrough]];
    case State::kUnquoted:
    case State::kQuoteInQuoted:
      end_field();
      end_record(out);
      break;
    case State::kSkipLine:
      end_record(out);
      break;
    case State::kAfterCr:
      break;
  }
  state_ = State::kFieldStart;
}

}  // namespace ft::data
