// Malformed templates and failing renders: every error is an ft::Error that names the template line
// and says what was expected, with a hint where one helps. No input crashes or hangs the engine.
#include <boost/test/unit_test.hpp>

#include <string>

#include "chat_test_util.h"

using chat_test::error_of;

namespace {

// True when `msg` holds every fragment (the test output shows the message when it does not).
bool has_all(const std::string& msg, std::initializer_list<const char*> fragments) {
  for (const char* f : fragments)
    if (msg.find(f) == std::string::npos) return false;
  return true;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int k = 0; k < n; ++k) out += s;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(jinja_errors)

BOOST_AUTO_TEST_CASE(syntax_errors_name_the_line) {
  std::string m = error_of("line one\n{{ x");
  BOOST_TEST(has_all(m, {"chat template line 2:", "'{{' is never closed"}), m);
  m = error_of("a\nb\n{% if x %}\nc");
  BOOST_TEST(has_all(m, {"chat template line 4:", "unexpected end of template", "'elif' or 'else' or 'endif'",
                         "'if' opened on line 3"}),
             m);
  m = error_of("{% for m in messages %}\n{{ m }}\n");
  BOOST_TEST(has_all(m, {"line 2:", "'else' or 'endfor'", "'for' opened on line 1"}), m);
  m = error_of("x\n{# never closed");
  BOOST_TEST(has_all(m, {"line 2:", "comment '{#' is never closed"}), m);
  m = error_of("{{ 'abc }}");
  BOOST_TEST(has_all(m, {"line 1:", "string literal starting with ' is never closed"}), m);
  m = error_of("\n\n{{ a $ b }}");
  BOOST_TEST(has_all(m, {"line 3:", "unexpected character '$'"}), m);
  m = error_of("{{ (1] }}");
  BOOST_TEST(has_all(m, {"unexpected ']'", "'(' opened on line 1 is still open"}), m);
  m = error_of("{{ }}");
  BOOST_TEST(has_all(m, {"line 1:", "empty expression"}), m);
  m = error_of("{{ 1 + }}");
  BOOST_TEST(has_all(m, {"expected an expression, found '}}'"}), m);
  m = error_of("{% if a %}{% else %}\n{% elif b %}{% endif %}");
  BOOST_TEST(has_all(m, {"line 2:", "unexpected 'elif'", "innermost open block is 'if' from line 1"}), m);
  m = error_of("{% set x = 1 extra %}");
  BOOST_TEST(has_all(m, {"expected '%}' to end 'set', found name 'extra'"}), m);
}

BOOST_AUTO_TEST_CASE(unknown_names_suggest_the_nearest) {
  std::string m = error_of("\n{{ x | trimm }}");
  BOOST_TEST(has_all(m, {"line 2:", "no filter named 'trimm'", "hint: did you mean 'trim'?"}), m);
  m = error_of("{% if x is defind %}{% endif %}");
  BOOST_TEST(has_all(m, {"no test named 'defind'", "did you mean 'defined'?"}), m);
  m = error_of("{% fro x in y %}{% endfor %}");
  BOOST_TEST(has_all(m, {"unknown tag 'fro'", "did you mean 'for'?"}), m);
  m = error_of("{% include 'other.jinja' %}");
  BOOST_TEST(has_all(m, {"unknown tag 'include'", "not available to chat templates"}), m);
  m = error_of("{% break %}");
  BOOST_TEST(has_all(m, {"'break' outside a for loop"}), m);
  m = error_of("{% for x in y recursive %}{% endfor %}");
  BOOST_TEST(has_all(m, {"recursive for loops are not supported"}), m);
}

BOOST_AUTO_TEST_CASE(runtime_errors_name_the_line) {
  std::string m = error_of("ok\n{{ 'a' + missing }}");
  BOOST_TEST(has_all(m, {"chat template line 2:", "'missing' is undefined"}), m);
  m = error_of("{{ 'a' + 1 }}");
  BOOST_TEST(has_all(m, {"unsupported operand types for +: 'str' and 'int'", "hint: use ~"}), m);
  m = error_of("{{ d.a.b }}", R"({"d": {}})");
  BOOST_TEST(has_all(m, {"'dict object' has no attribute 'a'"}), m);
  m = error_of("a\nb\n{{ raise_exception('Conversation roles must alternate') }}");
  BOOST_TEST(has_all(m, {"chat template line 3: Conversation roles must alternate", "raise_exception"}), m);
  m = error_of("{% for x in 5 %}{% endfor %}");
  BOOST_TEST(has_all(m, {"'int' object is not iterable"}), m);
  m = error_of("{{ 1 // 0 }}");
  BOOST_TEST(has_all(m, {"integer division by zero"}), m);
  m = error_of("{{ missing | tojson }}");
  BOOST_TEST(has_all(m, {"'missing' is undefined"}), m);
  m = error_of("{% set x = 1 %}{% set x.a = 2 %}");
  BOOST_TEST(has_all(m, {"cannot assign attribute 'a' on 'x' (int)", "namespace()"}), m);
  m = error_of("{% set l = [] %}{{ l.append(1) }}");
  BOOST_TEST(has_all(m, {"'append' of 'list' object is unsafe"}), m);
  m = error_of("{{ 'x' | join(1, 2, 3) }}");
  BOOST_TEST(has_all(m, {"filter 'join' takes at most 2 argument(s), 3 given"}), m);
  // The template name, when given, appears in the message.
  try {
    ft::text::ChatTemplate("{{ nope(", "tool_use");
    BOOST_FAIL("no error");
  } catch (const ft::Error& e) {
    BOOST_TEST(std::string(e.what()).find("chat template 'tool_use' line 1:") != std::string::npos, e.what());
  }
  // The context must be a JSON object.
  try {
    ft::text::ChatTemplate("x").render(nlohmann::ordered_json::array());
    BOOST_FAIL("no error");
  } catch (const ft::Error& e) {
    BOOST_TEST(
        std::string(e.what()).find("render context must be a JSON object, got array") != std::string::npos,
        e.what());
  }
}

BOOST_AUTO_TEST_CASE(runaway_templates_stop_with_errors) {
  std::string m = error_of("{% for i in range(100000000) %}{% endfor %}");
  BOOST_TEST(has_all(m, {"range() would produce more than 10000000 numbers"}), m);
  m = error_of("{{ " + repeat("(", 300) + "1" + repeat(")", 300) + " }}");
  BOOST_TEST(has_all(m, {"nested deeper than 200 levels"}), m);
  m = error_of("{{ 1" + repeat(" + 1", 300) + " }}");
  BOOST_TEST(has_all(m, {"expression nested deeper than 200 levels"}), m);
  m = error_of(repeat("{% if true %}", 300) + repeat("{% endif %}", 300));
  BOOST_TEST(has_all(m, {"template nested deeper than 200 levels"}), m);
  m = error_of("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}");
  BOOST_TEST(has_all(m, {"macro calls nest deeper than 100"}), m);
  m = error_of("{% set ns = namespace(v=[]) %}{% for i in range(5000) %}{% set ns.v = [ns.v] %}{% endfor %}");
  BOOST_TEST(has_all(m, {"value nested deeper than 1000 levels"}), m);
  m = error_of("{{ 'x' * 100000000 }}");
  BOOST_TEST(has_all(m, {"repetition produces more than"}), m);
  ft::text::ChatRenderOptions tight;
  tight.max_steps = 1000;
  try {
    ft::text::ChatTemplate("{% for i in range(10) %}\n{% for j in range(1000) %}{% endfor %}{% endfor %}")
        .render(nlohmann::ordered_json::object(), tight);
    BOOST_FAIL("no error");
  } catch (const ft::Error& e) {
    BOOST_TEST(has_all(e.what(), {"chat template line 2:", "ran more than 1000 steps"}), e.what());
  }
  // Doubling a string or a list in a loop stops at the output / range limits instead of eating memory
  // (tight limits here keep the test fast; the defaults are 256 MiB and 10M items).
  ft::text::ChatRenderOptions small;
  small.max_output_bytes = 1 << 20;
  small.max_range = 10000;
  auto error_small = [&](const std::string& tpl) {
    try {
      ft::text::ChatTemplate(tpl).render(nlohmann::ordered_json::object(), small);
    } catch (const ft::Error& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  m = error_small(
      "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}");
  BOOST_TEST(has_all(m, {"passes the output limit"}), m);
  m = error_small(
      "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}");
  BOOST_TEST(has_all(m, {"list concatenation produces more than 10000 items"}), m);
  m = error_small("{% set s = 'x' * 3000 %}{{ s | replace('x', s) }}");
  BOOST_TEST(has_all(m, {"replace() would build 8 MiB, past the output limit"}), m);
  m = error_small("{% set s = 'x' * 10000 %}{{ [s] * 200 }}");
  BOOST_TEST(has_all(m, {"text of more than 1048576 bytes (the output limit)"}), m);
  m = error_small("{% set s = 'x' * 10000 %}{{ ([s] * 200) | join }}");
  BOOST_TEST(has_all(m, {"join would build 1 MiB, past the output limit"}), m);
  m = error_of(R"({% set ns = namespace() %}{% set ns.me = ns %}{{ ns }})");
  BOOST_TEST(has_all(m, {"nested deeper than 1000 levels"}), m);
}

BOOST_AUTO_TEST_SUITE_END()
