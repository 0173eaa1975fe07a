// URLs as the Hub client needs them: parse scheme://host[:port]/path?query, resolve a Location header
// against the request URL (relative or absolute), and percent-quote like Python's urllib.parse.quote.
#pragma once

#include <string>

namespace ft::hub {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;        // explicit or the scheme default
  std::string target;  // path + query, starts with '/'

  std::string origin() const;  // scheme://host[:port], the port only when not the default
  std::string str() const { return origin() + target; }
};

// Throws ft::Error naming the text when it is not an http(s) URL.
Url parse_url(const std::string& text);
// Resolves a Location header value against `base` (absolute URL, "/abs/path", or "relative/path").
Url resolve_location(const Url& base, const std::string& location);
// True when `location` has no scheme/host (urllib: urlparse(location).netloc == "").
bool is_relative_location(const std::string& location);
// urllib.parse.quote(s, safe): unreserved chars [A-Za-z0-9_.~-] and those in `safe` stay as is.
std::string quote(const std::string& s, const std::string& safe = "/");

}  // namespace ft::hub
