// tokenizer.json "normalizer": Unicode normalization forms, Lowercase, Strip, StripAccents, Replace,
// Prepend and Sequence, applied to an Aligned string so offsets still point into the original text.
#pragma once

#include <memory>

#include "text/aligned.h"
#include "text/json_fields.h"

namespace ft::text {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void apply(Aligned& s) const = 0;
};

// Builds the normalizer described by `spec` (null → nullptr). Throws ft::Error naming `at`.
std::unique_ptr<Normalizer> make_normalizer(const json& spec, const JsonAt& at);

}  // namespace ft::text
