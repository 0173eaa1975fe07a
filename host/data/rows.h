// Dataset files as rows of JSON values, each remembering where it came from ("train.jsonl:12") so
// every later error can name the file and line. JSONL and CSV are streamed through bounded buffers
// (a RowReader holds one line / one record at a time, never the file); JSON arrays are parsed whole.
// Invalid input is an ft::Error naming the file and line, or a counted skip with skip_invalid.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace ft::data {

struct Row {
  nlohmann::json value;
  std::string origin;  // "file:line" (or "row N" for rows made in memory)
};

struct ReadOptions {
  bool skip_invalid = false;  // count and skip lines / records that are not valid rows
  int64_t limit = -1;         // stop after this many rows (-1: all)
  std::string format;         // "jsonl" | "json" | "csv" | "tsv"; "" = from the file name's extension
  char delimiter = 0;         // CSV field separator; 0 = ',' (csv) or '\t' (tsv)
};

// Reads rows one at a time. Memory is bounded by the longest line (JSONL) or record (CSV), plus a fixed
// read buffer, except for JSON arrays, which are parsed whole when opened.
class RowReader {
 public:
  virtual ~RowReader() = default;
  // The next row; false at the end (or once `limit` rows were returned).
  bool next(Row& row);
  int64_t skipped() const { return skipped_; }         // invalid rows skipped (only with skip_invalid)
  uint64_t bytes_read() const { return bytes_read_; }  // bytes taken from the file so far
  const std::string& path() const { return path_; }

 protected:
  RowReader(std::string path, const ReadOptions& opt) : path_(std::move(path)), opt_(opt) {}
  virtual bool read_row(Row& row) = 0;
  // A bad row: raises ft::Error("<where>: <problem>", hint), or counts it with skip_invalid.
  void bad_row(const std::string& where, const std::string& problem, const std::string& hint);

  std::string path_;
  ReadOptions opt_;
  int64_t skipped_ = 0, returned_ = 0;
  uint64_t bytes_read_ = 0;
};

// The format a path's extension names (".jsonl"/".ndjson", ".json", ".csv", ".tsv"), or "" when unknown.
std::string format_of(const std::string& path);
// Opens a reader for `opt.format` (or the extension); an unknown format is an error naming the supported
// ones.
std::unique_ptr<RowReader> open_rows(const std::string& path, const ReadOptions& opt = {});

struct ReadResult {
  std::vector<Row> rows;
  int64_t skipped = 0;  // invalid lines skipped (only with skip_invalid)
};

// All rows of a reader (up to opt.limit).
ReadResult read_rows(const std::string& path, const ReadOptions& opt = {});
// One JSON object per non-blank line.
ReadResult read_jsonl(const std::string& path, const ReadOptions& opt = {});
// A file holding one JSON array of objects (origin "file: row N").
ReadResult read_json_array(const std::string& path, const ReadOptions& opt = {});
// RFC 4180 CSV with a header row: each record becomes an object of header name -> string value.
ReadResult read_csv(const std::string& path, const ReadOptions& opt = {});

}  // namespace ft::data
