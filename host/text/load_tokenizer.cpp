// load_tokenizer(dir): picks tokenizer.json (byte-level BPE) or tokenizer.model (SentencePiece) in a
// model folder and adds tokenizer_config.json (and special_tokens_map.json for older repos); a
// chat_template.jinja file, when present, supplies the chat template newer HF repos keep outside it.
#include "core/error.h"
#include "core/fs.h"
#include "text/tokenizer_json.h"

namespace ft::text {

std::shared_ptr<Tokenizer> load_sentencepiece(const std::string& model_file, const std::string& config_text,
                                              const std::string& config_file);

std::shared_ptr<Tokenizer> load_tokenizer(const std::string& dir) {
  std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  std::string config_file = base + "tokenizer_config.json";
  std::string config_text = fs::exists(config_file) ? fs::read_file(config_file) : std::string();
  std::shared_ptr<Tokenizer> tok;
  if (fs::exists(base + "tokenizer.json")) {
    std::string map_file = base + "special_tokens_map.json";
    std::string map_text = fs::exists(map_file) ? fs::read_file(map_file) : std::string();
    tok = parse_tokenizer_json(fs::read_file(base + "tokenizer.json"), base + "tokenizer.json", config_text,
                               config_file, map_text, map_file);
  } else if (fs::exists(base + "tokenizer.model")) {
    tok = load_sentencepiece(base + "tokenizer.model", config_text, config_file);
  } else {
    throw Error("no tokenizer in " + dir + ": expected tokenizer.json or tokenizer.model",
                "point at a Hugging Face model folder, or use the byte tokenizer for tiny models");
  }
  std::string jinja = base + "chat_template.jinja";
  if (tok->chat_template.empty() && fs::exists(jinja)) tok->chat_template = fs::read_file(jinja);
  return tok;
}

}  // namespace ft::text
