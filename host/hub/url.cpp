// URL parsing, Location resolution and percent-quoting for the Hub client.
#include "hub/url.h"

#include <cctype>

#include "core/error.h"

namespace ft::hub {

std::string Url::origin() const {
  bool dflt = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  return scheme + "://" + host + (dflt ? "" : ":" + std::to_string(port));
}

Url parse_url(const std::string& text) {
  Url u;
  auto sep = text.find("://");
  if (sep == std::string::npos)
    throw Error("not a URL: '" + text + "' (expected http://host/... or https://host/...)",
                "check HF_ENDPOINT");
  u.scheme = text.substr(0, sep);
  for (auto& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https")
    throw Error("unsupported URL scheme '" + u.scheme + "' in '" + text + "' (expected http or https)",
                "check HF_ENDPOINT");
  std::string rest = text.substr(sep + 3);
  auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
  auto at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  u.port = u.scheme == "https" ? 443 : 80;
  if (!authority.empty() && authority[0] == '[') {  // IPv6 literal
    auto close = authority.find(']');
    u.host = authority.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      u.port = std::stoi(authority.substr(close + 2));
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string::npos) {
      std::string p = authority.substr(colon + 1);
      u.host = authority.substr(0, colon);
      if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5)
        throw Error("bad port '" + p + "' in URL '" + text + "'", "check HF_ENDPOINT");
      u.port = std::stoi(p);
    } else {
      u.host = authority;
    }
  }
  if (u.host.empty()) throw Error("URL '" + text + "' has no host", "check HF_ENDPOINT");
  return u;
}

bool is_relative_location(const std::string& location) {
  if (location.rfind("//", 0) == 0) return false;
  auto colon = location.find(':');
  auto slash = location.find('/');
  return colon == std::string::npos || (slash != std::string::npos && slash < colon);
}

Url resolve_location(const Url& base, const std::string& location) {
  if (location.rfind("//", 0) == 0) return parse_url(base.scheme + ":" + location);
  if (!is_relative_location(location)) return parse_url(location);
  Url u = base;
  if (!location.empty() && location[0] == '/') {
    u.target = location;
  } else {
    std::string path = base.target.substr(0, base.target.find('?'));
    u.target = path.substr(0, path.rfind('/') + 1) + location;
  }
  return u;
}

std::string quote(const std::string& s, const std::string& safe) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' ||
        safe.find(static_cast<char>(c)) != std::string::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace ft::hub
