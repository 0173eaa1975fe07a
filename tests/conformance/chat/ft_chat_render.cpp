// Renders chat-template cases with fthost's engine for the conformance comparison (compare.mjs).
// Input: a JSON file [{name, template, context, now?}]; output (stdout): [{name, text, spans} | {name,
// error}] with spans as byte offsets [begin, end) of {% generation %} output.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/chat_template.h"

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--repeat")) {
    std::cerr << "usage: ft_chat_render cases.json [--repeat N]\n";
    return 2;
  }
  const int repeat = argc == 4 ? std::atoi(argv[3]) : 0;
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "ft_chat_render: cannot open " << argv[1] << "\n";
    return 2;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  const auto cases = nlohmann::ordered_json::parse(buf.str());
  if (repeat > 0) {
    for (const auto& c : cases) {
      try {
        ft::text::ChatTemplate tpl(c.at("template").get<std::string>());
        ft::text::ChatRenderOptions opts;
        if (c.contains("now")) opts.now = c.at("now").get<std::time_t>();
        const auto t0 = std::chrono::steady_clock::now();
        for (int k = 0; k < repeat; ++k) tpl.render(c.at("context"), opts);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cout << c.at("name").get<std::string>() << "\t" << s / repeat * 1e6 << "\n";
      } catch (const ft::Error&) {
        std::cout << c.at("name").get<std::string>() << "\terror\n";
      }
    }
    return 0;
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& c : cases) {
    nlohmann::ordered_json r;
    r["name"] = c.at("name");
    try {
      ft::text::ChatTemplate tpl(c.at("template").get<std::string>());
      ft::text::ChatRenderOptions opts;
      if (c.contains("now")) opts.now = c.at("now").get<std::time_t>();
      const auto res = tpl.render(c.at("context"), opts);
      r["text"] = res.text;
      r["spans"] = nlohmann::ordered_json::array();
      for (const auto& s : res.generation_spans) r["spans"].push_back({s.begin, s.end});
    } catch (const ft::Error& e) {
      r["error"] = e.what();
    }
    out.push_back(r);
  }
  // Rendered text may hold any bytes the context held; replace invalid UTF-8 rather than throw.
  std::cout << out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  return 0;
}
