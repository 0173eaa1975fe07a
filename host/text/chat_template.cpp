// ChatTemplate: parse once with transformers' lexer settings, render per conversation (see
// chat_template.h). The Jinja engine itself lives in jinja_*.{h,cpp}.
#include "text/chat_template.h"

#include <stdexcept>

#include "core/error.h"
#include "text/jinja_ast.h"
#include "text/jinja_eval.h"
#include "text/jinja_lexer.h"
#include "text/jinja_parser.h"

namespace ft::text {

struct ChatTemplate::Impl {
  std::string source;
  std::string where;
  jinja::Body body;
  bool has_generation = false;
};

namespace {

bool contains_generation(const jinja::Body& body) {
  for (const auto& s : body) {
    if (s->k == jinja::Stmt::K::Generation) return true;
    if (contains_generation(s->body) || contains_generation(s->else_body)) return true;
    for (const auto& b : s->bodies)
      if (contains_generation(b)) return true;
  }
  return false;
}

template <class J>
RenderResult render_impl(const ChatTemplate& self, const std::string& where, const jinja::Body& body,
                         const J& context, const ChatRenderOptions& opts) {
  (void)self;
  if (!context.is_object())
    throw ft::Error(
        where + ": the render context must be a JSON object, got " + std::string(context.type_name()),
        "pass {messages = {...}, add_generation_prompt = true, ...}");
  jinja::Value ctx;
  try {
    ctx = jinja::Value::from_json(context);
  } catch (const std::length_error& e) {
    throw ft::Error(where + ": the render context is " + e.what(), "flatten the messages/tools data");
  }
  jinja::Dict vars = ctx.entries();
  if (opts.transformers_defaults) {
    if (!vars.find("tools")) vars.set("tools", jinja::Value::none());
    if (!vars.find("documents")) vars.set("documents", jinja::Value::none());
    if (!vars.find("add_generation_prompt")) vars.set("add_generation_prompt", jinja::Value::boolean(false));
  }
  jinja::EvalLimits limits;
  limits.max_output_bytes = opts.max_output_bytes;
  limits.max_steps = opts.max_steps;
  limits.max_range = opts.max_range;
  jinja::Interpreter interp(where, opts.now, limits);
  std::vector<std::pair<size_t, size_t>> spans;
  RenderResult r;
  r.text = interp.render(body, vars, spans);
  for (const auto& s : spans) r.generation_spans.push_back(GenerationSpan{s.first, s.second});
  return r;
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source, std::string name) {
  auto impl = std::make_shared<Impl>();
  impl->where = name.empty() ? std::string("chat template") : "chat template '" + name + "'";
  impl->source = std::move(source);
  impl->body = jinja::parse(jinja::lex(impl->source, impl->where), impl->where);
  impl->has_generation = contains_generation(impl->body);
  impl_ = std::move(impl);
}

RenderResult ChatTemplate::render(const nlohmann::ordered_json& context,
                                  const ChatRenderOptions& opts) const {
  return render_impl(*this, impl_->where, impl_->body, context, opts);
}

RenderResult ChatTemplate::render(const nlohmann::json& context, const ChatRenderOptions& opts) const {
  return render_impl(*this, impl_->where, impl_->body, context, opts);
}

const std::string& ChatTemplate::source() const {
  return impl_->source;
}
bool ChatTemplate::has_generation_blocks() const {
  return impl_->has_generation;
}

}  // namespace ft::text
