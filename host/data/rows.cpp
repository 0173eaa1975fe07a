// Row readers for JSONL (line by line), CSV (RFC 4180, header row, chunked) and JSON arrays (whole),
// with file:line errors and counted skips.
#include "data/rows.h"

#include <cctype>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "data/csv.h"
#include "data/json_line.h"

namespace ft::data {

namespace {

constexpr size_t kReadChunk = 1 << 16;  // CSV read size: the buffer a reader holds besides one record
constexpr size_t kShownChars = 80;      // how much of a bad line an error message quotes

std::string shown(const std::string& s) {
  return s.size() > kShownChars ? s.substr(0, kShownChars - 3) + "..." : s;
}

std::string lower_extension(const std::string& path) {
  const size_t slash = path.find_last_of('/'), dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string e = path.substr(dot + 1);
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

void open_or_throw(std::ifstream& in, const std::string& path) {
  in.open(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path + "'", "check the path (relative to the current folder)");
}

class JsonlReader : public RowReader {
 public:
  JsonlReader(const std::string& path, const ReadOptions& opt) : RowReader(path, opt) {
    open_or_throw(in_, path);
  }

 protected:
  bool read_row(Row& row) override {
    while (std::getline(in_, line_)) {
      ++lineno_;
      bytes_read_ += line_.size() + 1;
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (line_.find_first_not_of(" \t") == std::string::npos) continue;
      std::string where = path_ + ":" + std::to_string(lineno_);
      nlohmann::json j;
      if (!parse_json_fast(line_, j)) j = nlohmann::json::parse(line_, nullptr, /*allow_exceptions=*/false);
      std::string problem;
      if (j.is_discarded())
        problem = "invalid JSON";
      else if (!j.is_object())
        problem = std::string("expected a JSON object, found ") + j.type_name();
      if (!problem.empty()) {
        bad_row(where, problem + " (line: " + shown(line_) + ")",
                "every line of a JSONL file must be one JSON object; pass { skip_invalid = true } to count "
                "and skip bad lines");
        continue;
      }
      row.value = std::move(j);
      row.origin = std::move(where);
      return true;
    }
    if (in_.bad()) throw Error("read error in '" + path_ + "' after line " + std::to_string(lineno_));
    return false;
  }

 private:
  std::ifstream in_;
  std::string line_;
  int64_t lineno_ = 0;
};

class JsonArrayReader : public RowReader {
 public:
  JsonArrayReader(const std::string& path, const ReadOptions& opt) : RowReader(path, opt) {
    std::string text = fs::read_file(path);
    bytes_read_ = text.size();
    try {
      all_ = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      // Turn the byte offset into a line number.
      size_t pos = std::min<size_t>(e.byte, text.size());
      int64_t lineno = 1;
      for (size_t i = 0; i < pos; ++i) lineno += text[i] == '\n';
      throw Error(path + ":" + std::to_string(lineno) + ": invalid JSON (" + e.what() + ")");
    }
    if (!all_.is_array())
      throw Error(path + ": expected a JSON array of objects, found " + all_.type_name(),
                  "a file with one object per line is JSONL: name it .jsonl or pass { format = \"jsonl\" }");
  }

 protected:
  bool read_row(Row& row) override {
    while (next_ < all_.size()) {
      const size_t i = next_++;
      std::string where = path_ + ": row " + std::to_string(i + 1);
      if (!all_[i].is_object()) {
        bad_row(where, std::string("expected a JSON object, found ") + all_[i].type_name(),
                "every element of the array must be an object; pass { skip_invalid = true } to count and "
                "skip others");
        continue;
      }
      row.value = std::move(all_[i]);
      row.origin = std::move(where);
      return true;
    }
    return false;
  }

 private:
  nlohmann::json all_;
  size_t next_ = 0;
};

class CsvReader : public RowReader {
 public:
  CsvReader(const std::string& path, const ReadOptions& opt, char delimiter)
      : RowReader(path, opt), parser_(delimiter), buf_(kReadChunk, '\0') {
    open_or_throw(in_, path);
    CsvRecord h;
    if (!next_record(h)) throw Error(path + ": the file is empty, expected a header row naming the columns");
    if (!h.problem.empty())
      throw Error(path + ":" + std::to_string(h.line) + ": the header row: " + h.problem,
                  "the first line must name the columns, e.g. prompt,completion");
    std::set<std::string> seen;
    for (size_t i = 0; i < h.fields.size(); ++i) {
      // pandas (and so Hugging Face datasets) names an empty header cell "Unnamed: <column>".
      std::string name = h.fields[i].empty() ? "Unnamed: " + std::to_string(i) : h.fields[i];
      if (!seen.insert(name).second)
        throw Error(path + ":" + std::to_string(h.line) + ": the header names column '" + name + "' twice",
                    "give every column a distinct name");
      header_.push_back(std::move(name));
    }
    header_line_ = h.line;
  }

 protected:
  bool read_row(Row& row) override {
    CsvRecord r;
    while (next_record(r)) {
      std::string where = path_ + ":" + std::to_string(r.line);
      if (!r.problem.empty()) {
        bad_row(where, r.problem,
                "quote a field that holds '\"' (\"say \"\"hi\"\"\"), or pass { skip_invalid = true } to "
                "count and skip bad records");
        continue;
      }
      if (r.fields.size() != header_.size()) {
        bad_row(where,
                "row has " + std::to_string(r.fields.size()) + " field" + (r.fields.size() == 1 ? "" : "s") +
                    ", the header (line " + std::to_string(header_line_) + ") has " +
                    std::to_string(header_.size()),
                "quote fields that contain the delimiter or a line break (\"a, b\"); pass { skip_invalid = "
                "true } "
                "to count and skip such rows");
        continue;
      }
      nlohmann::json obj = nlohmann::json::object();
      for (size_t i = 0; i < header_.size(); ++i) obj[header_[i]] = std::move(r.fields[i]);
      row.value = std::move(obj);
      row.origin = std::move(where);
      return true;
    }
    return false;
  }

 private:
  bool next_record(CsvRecord& r) {
    while (pos_ >= pending_.size()) {
      pending_.clear();
      pos_ = 0;
      if (eof_) return false;
      in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
      const auto got = static_cast<size_t>(in_.gcount());
      if (in_.bad()) throw Error("read error in '" + path_ + "'");
      bytes_read_ += got;
      parser_.feed(std::string_view(buf_.data(), got), pending_);
      if (got < buf_.size()) {
        parser_.finish(pending_, path_);
        eof_ = true;
      }
    }
    r = std::move(pending_[pos_++]);
    return true;
  }

  std::ifstream in_;
  CsvParser parser_;
  std::string buf_;
  std::vector<CsvRecord> pending_;
  size_t pos_ = 0;
  bool eof_ = false;
  std::vector<std::string> header_;
  int64_t header_line_ = 1;
};

}  // namespace

bool RowReader::next(Row& row) {
  if (opt_.limit >= 0 && returned_ >= opt_.limit) return false;
  if (!read_row(row)) return false;
  ++returned_;
  return true;
}

void RowReader::bad_row(const std::string& where, const std::string& problem, const std::string& hint) {
  if (!opt_.skip_invalid) throw Error(where + ": " + problem, hint);
  ++skipped_;
}

std::string format_of(const std::string& path) {
  const std::string e = lower_extension(path);
  if (e == "jsonl" || e == "ndjson") return "jsonl";
  if (e == "json" || e == "csv" || e == "tsv") return e;
  return "";
}

std::unique_ptr<RowReader> open_rows(const std::string& path, const ReadOptions& opt) {
  const std::string f = opt.format.empty() ? format_of(path) : opt.format;
  if (f == "jsonl") return std::make_unique<JsonlReader>(path, opt);
  if (f == "json") return std::make_unique<JsonArrayReader>(path, opt);
  if (f == "csv" || f == "tsv") {
    const char d = opt.delimiter ? opt.delimiter : (f == "tsv" ? '\t' : ',');
    if (d == '"' || d == '\n' || d == '\r')
      throw Error(std::string("CSV delimiter cannot be '") + (d == '"' ? "\"" : "a line break") + "'");
    return std::make_unique<CsvReader>(path, opt, d);
  }
  if (opt.format.empty())
    throw Error("cannot tell the format of '" + path + "' from its name",
                "name it .jsonl, .json, .csv or .tsv, or pass { format = \"jsonl\" } (or json, csv, tsv)");
  throw Error("unknown data format '" + f + "'", "supported: jsonl, json, csv, tsv");
}

ReadResult read_rows(const std::string& path, const ReadOptions& opt) {
  auto reader = open_rows(path, opt);
  ReadResult out;
  Row r;
  while (reader->next(r)) out.rows.push_back(std::move(r));
  out.skipped = reader->skipped();
  return out;
}

ReadResult read_jsonl(const std::string& path, const ReadOptions& opt) {
  ReadOptions o = opt;
  o.format = "jsonl";
  return read_rows(path, o);
}

ReadResult read_json_array(const std::string& path, const ReadOptions& opt) {
  ReadOptions o = opt;
  o.format = "json";
  return read_rows(path, o);
}

ReadResult read_csv(const std::string& path, const ReadOptions& opt) {
  ReadOptions o = opt;
  if (o.format != "tsv") o.format = "csv";
  return read_rows(path, o);
}

}  // namespace ft::data
