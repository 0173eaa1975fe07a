// Jinja engine semantics as transformers renders chat templates: whitespace control with trim_blocks
// and lstrip_blocks, scoping, loop variables, Python value printing, tojson, undefined handling,
// string literals, generation spans and strftime_now. Expected bytes were checked against Python Jinja2.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <ctime>

#include "chat_test_util.h"

using chat_test::render;
using chat_test::render_full;

BOOST_AUTO_TEST_SUITE(jinja_render)

BOOST_AUTO_TEST_CASE(trim_blocks_and_lstrip_blocks) {
  // trim_blocks: the newline after a block tag goes; one trailing newline of the source goes.
  BOOST_TEST(render("{% if true %}\nyes\n{% endif %}\n") == "yes\n");
  BOOST_TEST(render("x\n\n") == "x\n");
  // lstrip_blocks: indentation before a block tag or comment at line start goes, not before {{ }}.
  BOOST_TEST(render("a\n    {% if true %}x{% endif %}\nb") == "a\nxb");
  BOOST_TEST(render("a\n  {# note #}\nb") == "a\nb");
  BOOST_TEST(render("a\n  {{ 'x' }}\nb") == "a\n  x\nb");
  BOOST_TEST(render("a b {% if true %}x{% endif %}") == "a b x");  // text before the tag: kept
  // Explicit control: - strips all whitespace, + keeps.
  BOOST_TEST(render("a  \n {{- ' x ' -}} \n b") == "a x b");
  BOOST_TEST(render("a\n  {%+ if true %}x{% endif %}") == "a\n  x");
  BOOST_TEST(render("{% if true +%}\nx{% endif %}") == "\nx");
  BOOST_TEST(render("{% if true -%}  \n\n  x{%- endif %}") == "x");
  // Newlines are normalised before anything else.
  BOOST_TEST(render("a\r\nb{% if true %}\r\nc{% endif %}") == "a\nbc");
  // Raw blocks keep tags as text.
  BOOST_TEST(render("{% raw %}{{ x }}{% endraw %}") == "{{ x }}");
}

BOOST_AUTO_TEST_CASE(scoping_loops_ifs_macros) {
  // A for body gets a fresh scope each iteration; if blocks share the enclosing scope.
  BOOST_TEST(render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}") ==
             "231");
  BOOST_TEST(render("{% if true %}{% set y = 5 %}{% endif %}{{ y }}") == "5");
  BOOST_TEST(
      render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}"
             "{{ ns.n }}") == "6");
  BOOST_TEST(
      render(
          "{% macro m(a, b=2) %}{{ a }}-{{ b }}{% endmacro %}{{ m(1) }}|{{ m(1, b=3) }}|{{ m('x', 'y') }}") ==
      "1-2|1-3|x-y");
  BOOST_TEST(render("{% set t %}  in {{ 1 + 1 }}  {% endset %}[{{ t }}]") == "[  in 2  ]");
  BOOST_TEST(render("{% filter upper %}ab{{ 'c' }}{% endfilter %}") == "ABC");
  BOOST_TEST(render("{% with a = 2 %}{{ a * 3 }}{% endwith %}[{{ a }}]") == "6[]");
  BOOST_TEST(render("{% set a, b = 1, 'z' %}{{ b }}{{ a }}") == "z1");
}

BOOST_AUTO_TEST_CASE(loop_variables_and_controls) {
  BOOST_TEST(
      render("{% for x in 'ab' %}{{ loop.index }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ x }}"
             "{% endfor %}") == "11TrueFalsea20FalseTrueb");
  BOOST_TEST(render("{% for x in [1, 2, 3, 4, 5] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}"
                    "{% break %}{% endif %}{{ x }}{% endfor %}") == "13");
  BOOST_TEST(render("{% for x in [] %}a{% else %}empty{% endfor %}") == "empty");
  BOOST_TEST(render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} {% endfor %}") ==
             "2/2 4/2 ");
  BOOST_TEST(render("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}{{ v }}{% endfor %}") == "b1a2");
  BOOST_TEST(render("{% for x in [1, 2, 3] %}{{ loop.cycle('a', 'b') }}{{ loop.previtem }}{% endfor %}") ==
             "ab1a2");
}

BOOST_AUTO_TEST_CASE(python_value_printing) {
  BOOST_TEST(
      render("{{ none }}|{{ true }}|{{ 1.0 }}|{{ 1e16 }}|{{ 1e-5 }}|{{ 123456789.125 }}|{{ 0.1 + 0.2 }}") ==
      "None|True|1.0|1e+16|1e-05|123456789.125|0.30000000000000004");
  BOOST_TEST(render("{{ [1, 'a', none, 2.5] }}|{{ {'k': \"it's\"} }}|{{ ('t',) }}") ==
             "[1, 'a', None, 2.5]|{'k': \"it's\"}|('t',)");
  BOOST_TEST(render("{{ 7 // -2 }} {{ 7 % -3 }} {{ -7 / 2 }} {{ 2 ** 62 }} {{ 10 / 5 }}") ==
             "-4 -2 -3.5 4611686018427387904 2.0");
  BOOST_TEST(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ none or 'd' }} {{ 0 and 'x' }} {{ 1 == 1.0 }}") ==
             "True False d 0 True");
}

BOOST_AUTO_TEST_CASE(tojson_is_python_json_dumps) {
  const std::string ctx =
      R"({"tool": {"z": 1, "a": "é\n\"q\"", "f": 0.5, "n": null, "l": [true, false], "e": {}}})";
  // Key order as given (ordered_json), ", " and ": " separators, non-ASCII kept.
  BOOST_TEST(render("{{ tool | tojson }}", ctx) ==
             R"({"z": 1, "a": "é\n\"q\"", "f": 0.5, "n": null, "l": [true, false], "e": {}})");
  BOOST_TEST(render("{{ tool.l | tojson(indent=2) }}", ctx) == "[\n  true,\n  false\n]");
  BOOST_TEST(render("{{ tool.a | tojson(ensure_ascii=true) }}", ctx) == R"("\u00e9\n\"q\"")");
  BOOST_TEST(render("{{ tool | tojson(sort_keys=true, separators=(',', ':')) }}", ctx) ==
             R"({"a":"é\n\"q\"","e":{},"f":0.5,"l":[true,false],"n":null,"z":1})");
  BOOST_TEST(render("{{ 3.0 | tojson }} {{ 1e100 | tojson }} {{ '\x01' | tojson }}") ==
             R"(3.0 1e+100 "\u0001")");
  // A plain nlohmann::json context sorts keys: ordered_json is how to keep the source order.
  ft::text::ChatTemplate t("{{ tool | tojson }}");
  BOOST_TEST(t.render(nlohmann::json::parse(R"({"tool": {"b": 1, "a": 2}})")).text == R"({"a": 2, "b": 1})");
}

BOOST_AUTO_TEST_CASE(undefined_values) {
  const std::string ctx = R"({"d": {}, "messages": []})";
  BOOST_TEST(
      render("[{{ missing }}|{{ missing is defined }}|{% for x in missing %}x{% endfor %}|"
             "{{ missing | length }}|{{ 'k' in missing }}|{{ d.nokey }}|{{ missing | default('dflt') }}]",
             ctx) == "[|False||0|False||dflt]");
  // transformers passes tools/documents as None and add_generation_prompt as False.
  BOOST_TEST(render("{{ tools is none }} {{ documents is none }} {{ add_generation_prompt }}") ==
             "True True False");
  ft::text::ChatRenderOptions raw;
  raw.transformers_defaults = false;
  BOOST_TEST(
      ft::text::ChatTemplate("{{ tools is defined }}").render(nlohmann::ordered_json::object(), raw).text ==
      "False");
}

BOOST_AUTO_TEST_CASE(string_literals_and_methods) {
  // Python's unicode-escape rules: known escapes decode, unknown ones keep the backslash,
  // backslash-newline continues the line.
  BOOST_TEST(render(R"({{ 'a\nb\x41\u00e9\\ \q' }})") == "a\nbAé\\ \\q");
  BOOST_TEST(render("{{ 'a\\\nb' }}") == "ab");
  BOOST_TEST(render(R"({{ "adjacent " 'literals' }})") == "adjacent literals");
  BOOST_TEST(render(R"({{ '  a  b '.split() }} {{ 'a,,b'.split(',') }} {{ '-'.join(['x', 'y']) }})") ==
             "['a', 'b'] ['a', '', 'b'] x-y");
  const std::string ctx = "{\"s\": \"\\u3000hi\\u3000\", \"u\": \"h\\u00e9llo\"}";
  BOOST_TEST(render("[{{ s | trim }}] {{ s | length }} {{ u[1:3] }} {{ u[::-1] }} {{ u | upper }}", ctx) ==
             "[hi] 4 él olléh HÉLLO");
  BOOST_TEST(render("{{ 'straße' | upper }} {{ 'hello world' | title }} {{ 'hELLO' | capitalize }}") ==
             "STRASSE Hello World Hello");
}

BOOST_AUTO_TEST_CASE(generation_spans_are_byte_offsets) {
  const std::string tpl = chat_test::read_fixture("chatml-generation.jinja");
  const std::string ctx = R"({"messages": [{"role": "user", "content": "héllo"},
      {"role": "assistant", "content": "wörld 🌍"}, {"role": "user", "content": "again"},
      {"role": "assistant", "content": "ok"}]})";
  const auto r = render_full(tpl, ctx);
  BOOST_TEST(r.text ==
             "<|im_start|>user\nhéllo<|im_end|>\n<|im_start|>assistant\nwörld 🌍<|im_end|>\n"
             "<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n");
  BOOST_REQUIRE_EQUAL(r.generation_spans.size(), 2u);
  const auto& a = r.generation_spans[0];
  BOOST_TEST(a.begin == r.text.find("wörld"));
  BOOST_TEST(r.text.substr(a.begin, a.end - a.begin) == "wörld 🌍<|im_end|>");
  const auto& b = r.generation_spans[1];
  BOOST_TEST(r.text.substr(b.begin, b.end - b.begin) == "ok<|im_end|>");
  BOOST_TEST(b.end == r.text.size() - 1);
  BOOST_TEST(ft::text::ChatTemplate(tpl).has_generation_blocks());
  BOOST_TEST(!ft::text::ChatTemplate("{{ 'generation' }}").has_generation_blocks());
  // Assignments inside the block stay inside (transformers renders it as a call block).
  BOOST_TEST(render("{% set x = 1 %}{% generation %}{% set x = 2 %}{{ x }}{% endgeneration %}{{ x }}") ==
             "21");
  // Output captured by a macro has no position in the final text: no span.
  const auto m = render_full("{% macro f() %}{% generation %}g{% endgeneration %}{% endmacro %}a{{ f() }}");
  BOOST_TEST(m.text == "ag");
  BOOST_TEST(m.generation_spans.empty());
}

BOOST_AUTO_TEST_CASE(strftime_now_uses_the_given_clock) {
  const char* old_tz = std::getenv("TZ");
  const std::string saved = old_tz ? old_tz : "";
  setenv("TZ", "UTC", 1);
  tzset();
  BOOST_TEST(render("{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%d %b %Y') }}") ==
             "2024-11-20 11:14:56|20 Nov 2024");
  if (old_tz)
    setenv("TZ", saved.c_str(), 1);
  else
    unsetenv("TZ");
  tzset();
}

BOOST_AUTO_TEST_SUITE_END()
