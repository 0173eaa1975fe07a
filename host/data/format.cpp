// Row -> (ids, labels) for SFT: text, prompt/completion (completion-only mask), messages (assistant-only
// mask found by rendering growing prefixes of the conversation).
#include "data/format.h"

#include "core/error.h"

namespace ft::data {

int64_t Example::label_tokens() const {
  int64_t n = 0;
  // Position 0 is never predicted (labels are shifted inside the loss).
  for (size_t i = 1; i < labels.size(); ++i) n += labels[i] != kIgnoreIndex;
  return n;
}

namespace {

std::string keys_of(const nlohmann::json& j) {
  std::string s;
  for (auto it = j.begin(); it != j.end(); ++it) s += (s.empty() ? "" : ", ") + it.key();
  return s.empty() ? "none" : s;
}

const std::string& string_field(const nlohmann::json& row, const char* key, const std::string& where) {
  const auto& v = row.at(key);
  if (!v.is_string()) throw Error(where + ": field '" + key + "' must be a string, found " + v.type_name());
  return v.get_ref<const std::string&>();
}

void append(Example& ex, const std::vector<text::TokenId>& ids, bool labelled) {
  for (auto id : ids) {
    ex.ids.push_back(id);
    ex.labels.push_back(labelled ? id : kIgnoreIndex);
  }
}

Example format_messages(const nlohmann::json& row, const text::Tokenizer& tok, const text::ChatTemplate* tmpl,
                        const FormatOptions& opt, const std::string& where) {
  const auto& msgs = row.at("messages");
  if (!msgs.is_array() || msgs.empty())
    throw Error(where + ": field 'messages' must be a non-empty list of {role, content}");
  if (!tmpl)
    throw Error(where + ": a 'messages' row needs a chat template, and this tokenizer has none",
                "use prompt/completion rows, or a model whose tokenizer_config.json has a chat_template");
  auto render = [&](size_t n, bool gen_prompt) {
    nlohmann::json ctx;
    ctx["messages"] = nlohmann::json(std::vector<nlohmann::json>(msgs.begin(), msgs.begin() + n));
    ctx["add_generation_prompt"] = gen_prompt;
    ctx["bos_token"] = tok.bos_token;
    ctx["eos_token"] = tok.eos_token;
    return tmpl->render(ctx).text;
  };
  // Every message is {role = string, content = string | list of parts} (content may be absent or null
  // only next to tool_calls), checked before the template sees it.
  for (size_t i = 0; i < msgs.size(); ++i) {
    const std::string at = where + ": messages[" + std::to_string(i + 1) + "]";
    const auto& m = msgs[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      throw Error(at + " needs a string 'role'");
    const bool tool_calls = m.contains("tool_calls");
    if (!m.contains("content") || m["content"].is_null()) {
      if (!tool_calls)
        throw Error(at + " (role '" + m["role"].get<std::string>() + "') has no 'content'",
                    "every message needs { role = ..., content = ... }");
    } else if (!m["content"].is_string() && !m["content"].is_array()) {
      throw Error(at + ": 'content' must be a string or a list of parts, found " + m["content"].type_name());
    }
  }
  // Character ranges of the rendered text that belong to assistant turns.
  std::string full = render(msgs.size(), false);
  std::vector<std::pair<size_t, size_t>> spans;
  bool any_assistant = false;
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i]["role"] != "assistant") continue;
    any_assistant = true;
    std::string before = render(i, true), upto = render(i + 1, false);
    if (full.compare(0, before.size(), before) != 0 || full.compare(0, upto.size(), upto) != 0)
      throw Error(where + ": the chat template does not render conversations prefix by prefix",
                  "assistant-only masks need a template whose rendering of a prefix is a prefix of the "
                  "whole; set train_on_inputs = true");
    spans.emplace_back(before.size(), upto.size());
  }
  if (!any_assistant && !opt.train_on_inputs)
    throw Error(where + ": 'messages' has no assistant turn, so there is nothing to train on");
  Example ex;
  text::Encoding enc = tok.encode(full, /*add_special=*/false);
  for (size_t t = 0; t < enc.ids.size(); ++t) {
    bool lab = opt.train_on_inputs;
    for (const auto& s : spans)
      if (enc.offsets[t].first < s.second && enc.offsets[t].second > s.first) lab = true;
    ex.ids.push_back(enc.ids[t]);
    ex.labels.push_back(lab ? enc.ids[t] : kIgnoreIndex);
  }
  return ex;
}

Example format_row(const Row& r, const text::Tokenizer& tok, const text::ChatTemplate* tmpl,
                   const FormatOptions& opt) {
  const auto& row = r.value;
  const std::string& where = r.origin;
  std::vector<text::TokenId> eos;
  if (opt.add_eos && tok.eos_id) eos.push_back(*tok.eos_id);
  Example ex;
  if (row.contains("messages")) {
    ex = format_messages(row, tok, tmpl, opt, where);
  } else if (row.contains("prompt") || row.contains("completion")) {
    if (!row.contains("prompt")) throw Error(where + ": row has 'completion' but no 'prompt' field");
    if (!row.contains("completion")) throw Error(where + ": row has 'prompt' but no 'completion' field");
    const std::string& p = string_field(row, "prompt", where);
    const std::string& c = string_field(row, "completion", where);
    if (c.empty()) throw Error(where + ": empty completion", "remove the row or filter it out with :filter");
    append(ex, tok.encode(p, true).ids, opt.train_on_inputs);
    append(ex, tok.encode(c, false).ids, true);
    append(ex, eos, true);
  } else if (row.contains("text")) {
    const std::string& t = string_field(row, "text", where);
    if (t.empty()) throw Error(where + ": empty 'text'");
    append(ex, tok.encode(t, true).ids, true);
    append(ex, eos, true);
  } else {
    throw Error(where + ": row has none of the fields text, prompt/completion or messages (found: " +
                    keys_of(row) + ")",
                "map rows into one of these shapes, e.g. ds:map(function(r) return { prompt = r.q, "
                "completion = r.a } end)");
  }
  return ex;
}

}  // namespace

void FormatResult::append(FormatResult&& more) {
  if (examples.empty()) {
    examples = std::move(more.examples);
  } else {
    examples.reserve(examples.size() + more.examples.size());
    for (auto& e : more.examples) examples.push_back(std::move(e));
  }
  if (skipped == 0) first_skip = std::move(more.first_skip);
  skipped += more.skipped;
  truncated += more.truncated;
  more = FormatResult();
}

int64_t FormatResult::tokens() const {
  int64_t n = 0;
  for (const auto& e : examples) n += static_cast<int64_t>(e.ids.size());
  return n;
}

FormatResult format_rows(const std::vector<Row>& rows, const text::Tokenizer& tok,
                         const text::ChatTemplate* tmpl, const FormatOptions& opt) {
  if (opt.max_len < 2) throw Error("max_len must be >= 2, got " + std::to_string(opt.max_len));
  FormatResult out;
  out.examples.reserve(rows.size());
  for (const auto& r : rows) {
    try {
      Example ex = format_row(r, tok, tmpl, opt);
      if (static_cast<int64_t>(ex.ids.size()) > opt.max_len) {
        if (!opt.truncate)
          throw Error(r.origin + ": sample has " + std::to_string(ex.ids.size()) +
                          " tokens, more than max_len " + std::to_string(opt.max_len),
                      "raise max_len, set truncation = true, or filter long rows out");
        ex.ids.resize(opt.max_len);
        ex.labels.resize(opt.max_len);
        ++out.truncated;
        if (ex.label_tokens() == 0)
          throw Error(r.origin + ": after truncation to max_len " + std::to_string(opt.max_len) +
                          " no completion token is left to train on",
                      "raise max_len or shorten the prompt");
      }
      if (ex.label_tokens() == 0) throw Error(r.origin + ": sample has no token to train on");
      // Kept for the whole run: no spare capacity (a truncated sample would otherwise hold its full length).
      ex.ids.shrink_to_fit();
      ex.labels.shrink_to_fit();
      out.examples.push_back(std::move(ex));
    } catch (const Error& e) {
      if (!opt.skip_bad) throw;
      if (out.skipped++ == 0) out.first_skip = e.message();
    }
  }
  return out;
}

}  // namespace ft::data
