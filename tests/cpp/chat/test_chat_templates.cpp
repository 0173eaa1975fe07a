// Real chat templates from tests/data/chat rendered to golden strings produced by Python Jinja2 in
// transformers' environment (tests/conformance/chat/render_python.py): Mixtral's alternation check
// and raise_exception, Llama 3.3's tools in the first user message with tojson(indent=4), and Mistral
// Small 3.1's strftime_now date and backslash-newline string continuations.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <ctime>

#include "chat_test_util.h"

using chat_test::error_of;
using chat_test::read_fixture;
using chat_test::render;

BOOST_AUTO_TEST_SUITE(chat_templates)

BOOST_AUTO_TEST_CASE(mixtral_multiturn_and_alternation_error) {
  const std::string tpl = read_fixture("mistralai-Mixtral-8x7B-Instruct-v0.1.jinja");
  BOOST_TEST(render(tpl, R"({"bos_token": "<s>", "eos_token": "</s>", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]})") ==
             "<s> [INST] Be brief.\n\nHi [/INST] Hello.</s> [INST] Bye [/INST]");
  const std::string m = error_of(tpl, R"({"bos_token": "<s>", "eos_token": "</s>", "messages": [
      {"role": "user", "content": "a"}, {"role": "user", "content": "b"}]})");
  BOOST_TEST(
      m.find("chat template line 11: After the optional system message, conversation roles must alternate") !=
          std::string::npos,
      m);
}

BOOST_AUTO_TEST_CASE(llama_3_3_tools_in_first_user_message) {
  const std::string tpl = read_fixture("meta-llama-Llama-3.3-70B-Instruct.jinja");
  const std::string ctx = R"({"bos_token": "<|begin_of_text|>",
      "messages": [{"role": "user", "content": " What time is it? "}],
      "tools": [{"type": "function", "function": {"name": "now", "description": "Current time",
                 "parameters": {"type": "object", "properties": {}}}}],
      "add_generation_prompt": true})";
  BOOST_TEST(
      render(tpl, ctx) ==
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting "
      "Knowledge "
      "Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
      "Given the following functions, please respond with a JSON for a function call with its proper "
      "arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, "
      "\"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": "
      "\"function\",\n    \"function\": {\n        \"name\": \"now\",\n        \"description\": \"Current "
      "time\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": "
      "{}\n        }\n    }\n}\n\nWhat time is "
      "it?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  // No user message to carry the tools: the template's own error, at its line.
  const std::string m = error_of(tpl, R"({"messages": [{"role": "system", "content": "s"}], "tools": []})");
  BOOST_TEST(
      m.find("line 52: Cannot put tools in the first user message when there's no first user message!") !=
          std::string::npos,
      m);
}

BOOST_AUTO_TEST_CASE(mistral_small_default_system_prompt_with_date) {
  const char* old_tz = std::getenv("TZ");
  const std::string saved = old_tz ? old_tz : "";
  setenv("TZ", "UTC", 1);
  tzset();
  const std::string out = render(read_fixture("mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja"),
                                 R"({"bos_token": "<s>", "eos_token": "</s>",
                                     "messages": [{"role": "user", "content": "Hi"}]})");
  if (old_tz)
    setenv("TZ", saved.c_str(), 1);
  else
    unsetenv("TZ");
  tzset();
  BOOST_TEST(
      out ==
      "<s>[SYSTEM_PROMPT]You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI, a "
      "French "
      "startup headquartered in Paris.Your knowledge base was last updated on 2023-10-01. The current date "
      "is "
      "2024-11-20.When you're not sure about some information, you say that you don't have the information "
      "and don't make up anything.If the user's question is not clear, ambiguous, or does not provide enough "
      "context for you to accurately answer the question, you do not try to answer it right away and you "
      "rather ask the user to clarify their request (e.g. \"What are some good restaurants around me?\" => "
      "\"Where are you?\" or \"When is the next flight to Tokyo\" => \"Where do you travel from?\")"
      "[/SYSTEM_PROMPT][INST]Hi[/INST]");
}

BOOST_AUTO_TEST_SUITE_END()
