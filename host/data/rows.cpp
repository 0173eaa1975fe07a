// JSONL / JSON-array readers with file:line errors.
#include "data/rows.h"

#include <fstream>

#include "core/error.h"
#include "core/fs.h"

namespace ft::data {

ReadResult read_jsonl(const std::string& path, const ReadOptions& opt) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("ft.data.jsonl: cannot open '" + path + "'", "check the path (relative to the current folder)");
  ReadResult out;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string problem;
    if (j.is_discarded())
      problem = "invalid JSON";
    else if (!j.is_object())
      problem = std::string("expected a JSON object, found ") + j.type_name();
    if (!problem.empty()) {
      if (opt.skip_invalid) {
        ++out.skipped;
        continue;
      }
      std::string shown = line.size() > 80 ? line.substr(0, 77) + "..." : line;
      throw Error(where + ": " + problem + " (line: " + shown + ")",
                  "every line of a JSONL file must be one JSON object; pass { skip_invalid = true } to count and skip bad lines");
    }
    out.rows.push_back({std::move(j), where});
    if (opt.limit >= 0 && static_cast<int64_t>(out.rows.size()) >= opt.limit) break;
  }
  if (in.bad()) throw Error("ft.data.jsonl: read error in '" + path + "' after line " + std::to_string(lineno));
  return out;
}

ReadResult read_json_array(const std::string& path, const ReadOptions& opt) {
  std::string text = fs::read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Turn the byte offset into a line number.
    size_t pos = std::min<size_t>(e.byte, text.size());
    int64_t lineno = 1;
    for (size_t i = 0; i < pos; ++i) lineno += text[i] == '\n';
    throw Error(path + ":" + std::to_string(lineno) + ": invalid JSON (" + e.what() + ")");
  }
  if (!j.is_array()) throw Error(path + ": expected a JSON array of objects, found " + j.type_name());
  ReadResult out;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string where = path + ": row " + std::to_string(i + 1);
    if (!j[i].is_object()) {
      if (opt.skip_invalid) {
        ++out.skipped;
        continue;
      }
      throw Error(where + ": expected a JSON object, found " + j[i].type_name());
    }
    out.rows.push_back({std::move(j[i]), where});
    if (opt.limit >= 0 && static_cast<int64_t>(out.rows.size()) >= opt.limit) break;
  }
  return out;
}

}  // namespace ft::data
