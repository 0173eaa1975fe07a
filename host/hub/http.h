// The HTTP layer of the Hub client, on cpp-httplib (OpenSSL): one request at a time, never following
// redirects on its own (the caller decides, as huggingface_hub does), with connections kept alive per
// origin. Network failures become HttpError (retryable); HTTP statuses are returned, not thrown.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "hub/url.h"

namespace httplib {
class Client;
}

namespace ft::hub {

// Case-insensitive header map, like HTTP.
struct CaseLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using HeaderMap = std::multimap<std::string, std::string, CaseLess>;

struct HttpResponse {
  int status = 0;
  HeaderMap headers;
  std::string body;  // error bodies and API answers (capped); file bodies go to the sink instead
  std::string header(const std::string& name) const;  // "" when absent
  bool has(const std::string& name) const { return headers.count(name) > 0; }
};

// A connection-level failure (refused, reset, timeout, TLS): the request may be retried.
class HttpError : public std::runtime_error {
 public:
  HttpError(const std::string& what, bool timeout) : std::runtime_error(what), timeout_(timeout) {}
  bool timeout() const { return timeout_; }

 private:
  bool timeout_;
};

// Called with the status and headers before any body byte; return false to stop reading.
using HeadersFn = std::function<bool(const HttpResponse&)>;
// Called with each body chunk of a 2xx answer; return false to abort (the connection is dropped).
using BodyFn = std::function<bool(const char* data, size_t n)>;

// One per thread: keeps a keep-alive connection per origin.
class HttpSession {
 public:
  // `ca_file`: a PEM bundle to trust instead of the system store ("" = system store).
  HttpSession(double connect_timeout_s, double read_timeout_s, std::string ca_file = {});
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // HEAD or GET without following redirects. A GET body of a 2xx answer goes to `on_body` when given,
  // otherwise into response.body (at most `body_cap` bytes kept). Throws HttpError on network failure.
  HttpResponse request(const std::string& method, const Url& url, const HeaderMap& headers,
                       const HeadersFn& on_headers = nullptr, const BodyFn& on_body = nullptr,
                       size_t body_cap = 64u << 20);
  void drop_connections();

 private:
  httplib::Client& client_for(const Url& url);
  double connect_timeout_s_, read_timeout_s_;
  std::string ca_file_;
  std::map<std::string, std::unique_ptr<httplib::Client>> clients_;
};

}  // namespace ft::hub
