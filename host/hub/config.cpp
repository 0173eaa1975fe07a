// Environment → HubConfig, following huggingface_hub constants.py and utils/_auth.py.
#include "hub/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ft::hub {
namespace {
std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}
std::string env_or(const char* name, const std::string& dflt) {
  auto v = env(name);
  return v && !v->empty() ? *v : dflt;
}
double env_seconds(const char* name, double dflt) {
  auto v = env(name);
  if (!v || v->empty()) return dflt;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  return (end && *end == '\0' && d > 0) ? d : dflt;
}
}  // namespace

bool env_flag_true(const std::string& value) {
  std::string v;
  for (char c : value) v += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v == "1" || v == "ON" || v == "YES" || v == "TRUE";
}

std::optional<std::string> clean_token(const std::string& raw) {
  std::string t;
  for (char c : raw)
    if (c != '\r' && c != '\n') t += c;
  auto ws = [](unsigned char c) { return std::isspace(c) != 0; };
  t.erase(t.begin(), std::find_if_not(t.begin(), t.end(), ws));
  t.erase(std::find_if_not(t.rbegin(), t.rend(), ws).base(), t.end());
  if (t.empty()) return std::nullopt;
  return t;
}

HubConfig HubConfig::from_env() {
  HubConfig c;
  std::string ep = env_or("HF_ENDPOINT", "https://huggingface.co");
  while (!ep.empty() && ep.back() == '/') ep.pop_back();
  c.endpoint = ep;

  std::string home_dir = env_or("HOME", "/root");
  std::string xdg = env_or("XDG_CACHE_HOME", home_dir + "/.cache");
  c.home = env_or("HF_HOME", xdg + "/huggingface");
  c.cache_dir = env_or("HF_HUB_CACHE", env_or("HUGGINGFACE_HUB_CACHE", c.home + "/hub"));
  c.token_path = env_or("HF_TOKEN_PATH", c.home + "/token");

  c.offline =
      env_flag_true(env_or("HF_HUB_OFFLINE", "")) || env_flag_true(env_or("TRANSFORMERS_OFFLINE", ""));
  c.etag_timeout_s = env_seconds("HF_HUB_ETAG_TIMEOUT", c.etag_timeout_s);
  c.download_timeout_s = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", c.download_timeout_s);
  c.ca_bundle = env_or("REQUESTS_CA_BUNDLE", env_or("CURL_CA_BUNDLE", ""));

  // Token order (utils/_auth.py): HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the token file.
  if (!env_flag_true(env_or("HF_HUB_DISABLE_IMPLICIT_TOKEN", ""))) {
    if (auto t = env("HF_TOKEN")) c.token = clean_token(*t);
    if (!c.token)
      if (auto t = env("HUGGING_FACE_HUB_TOKEN")) c.token = clean_token(*t);
    if (!c.token) {
      std::ifstream in(c.token_path, std::ios::binary);
      if (in) {
        std::stringstream ss;
        ss << in.rdbuf();
        c.token = clean_token(ss.str());
      }
    }
  }
  return c;
}

}  // namespace ft::hub
