// Dataset files as rows of JSON values, each remembering where it came from ("train.jsonl:12") so
// every later error can name the file and line. JSONL is streamed line by line; JSON arrays are parsed
// whole. Invalid input is an ft::Error naming the file and line.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ft::data {

struct Row {
  nlohmann::json value;
  std::string origin;  // "file:line" (or "row N" for rows made in memory)
};

struct ReadOptions {
  bool skip_invalid = false;  // count and skip lines that are not valid JSON objects
  int64_t limit = -1;         // stop after this many rows (-1: all)
};

struct ReadResult {
  std::vector<Row> rows;
  int64_t skipped = 0;  // invalid lines skipped (only with skip_invalid)
};

// One JSON object per non-blank line.
ReadResult read_jsonl(const std::string& path, const ReadOptions& opt = {});
// A file holding one JSON array of objects (origin "file:row N").
ReadResult read_json_array(const std::string& path, const ReadOptions& opt = {});

}  // namespace ft::data
