// SFT example formatting: a row ({text} | {prompt, completion} | {messages}) becomes token ids and
// labels, with prompt tokens (or non-assistant chat tokens) labelled -100 unless train_on_inputs.
// Labels are aligned with input ids; the shift happens inside the loss. Over-long samples are truncated
// (or rejected); a sample left with no label token is an error naming its origin (or a counted skip).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/rows.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace ft::data {

constexpr int32_t kIgnoreIndex = -100;

struct Example {
  std::vector<int32_t> ids;
  std::vector<int32_t> labels;  // kIgnoreIndex where no loss is taken
  // Packed rows only: 1, 1, ..., 2, 2, ... per token (attention stays inside a segment, positions
  // restart); empty for a single sample.
  std::vector<int32_t> segment_ids;
  int64_t label_tokens() const;
};

struct FormatOptions {
  int64_t max_len = 1024;
  bool train_on_inputs = false;  // true: every token is a label
  bool add_eos = true;           // append the tokenizer's EOS after a completion / text
  bool truncate = true;          // false: an over-long sample is an error (or a skip)
  bool skip_bad = false;         // count and skip bad rows instead of raising
};

struct FormatResult {
  std::vector<Example> examples;
  int64_t skipped = 0;
  int64_t truncated = 0;
  std::string first_skip;  // the error of the first skipped row ("file:line: problem"), for the report
  // Moves `more`'s examples and counts to the end of this one (streamed data is formatted in chunks).
  void append(FormatResult&& more);
  int64_t tokens() const;  // all tokens of all examples
};

// `tmpl` may be null (then `messages` rows are an error naming the row).
FormatResult format_rows(const std::vector<Row>& rows, const text::Tokenizer& tok,
                         const text::ChatTemplate* tmpl, const FormatOptions& opt);

}  // namespace ft::data
