// cpp-httplib glue for HttpSession. The Debian library is compiled with OpenSSL, zlib and brotli;
// the pkg-config flags of cpp-httplib define the matching CPPHTTPLIB_*_SUPPORT macros.
#include "hub/http.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace ft::hub {

bool CaseLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(
      a.begin(), a.end(), b.begin(), b.end(),
      [](unsigned char x, unsigned char y) { return std::tolower(x) < std::tolower(y); });
}

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpSession::HttpSession(double connect_timeout_s, double read_timeout_s, std::string ca_file)
    : connect_timeout_s_(connect_timeout_s), read_timeout_s_(read_timeout_s), ca_file_(std::move(ca_file)) {}
HttpSession::~HttpSession() = default;

void HttpSession::drop_connections() {
  clients_.clear();
}

namespace {
void set_timeout(httplib::Client& c, double s, bool connect) {
  auto sec = static_cast<time_t>(s);
  auto usec = static_cast<time_t>((s - std::floor(s)) * 1e6);
  if (connect)
    c.set_connection_timeout(sec, usec);
  else
    c.set_read_timeout(sec, usec);
}
httplib::Headers to_httplib(const HeaderMap& h) {
  httplib::Headers out;
  for (auto& [k, v] : h) out.emplace(k, v);
  return out;
}
void copy_headers(const httplib::Response& r, HttpResponse& out) {
  out.status = r.status;
  out.headers.clear();
  for (auto& [k, v] : r.headers) out.headers.emplace(k, v);
}
[[noreturn]] void throw_network(httplib::Error e, const Url& url) {
  bool timeout = e == httplib::Error::ConnectionTimeout || e == httplib::Error::Read;
  throw HttpError("network error talking to " + url.origin() + ": " + httplib::to_string(e), timeout);
}
}  // namespace

httplib::Client& HttpSession::client_for(const Url& url) {
  std::string key = url.origin();
  auto it = clients_.find(key);
  if (it != clients_.end()) return *it->second;
  auto c = std::make_unique<httplib::Client>(url.scheme + "://" + url.host + ":" + std::to_string(url.port));
  set_timeout(*c, connect_timeout_s_, true);
  set_timeout(*c, read_timeout_s_, false);
  c->set_write_timeout(static_cast<time_t>(std::max(1.0, read_timeout_s_)), 0);
  c->set_keep_alive(true);
  c->set_follow_location(false);
  c->set_decompress(false);
  if (!ca_file_.empty()) c->set_ca_cert_path(ca_file_.c_str());
  return *clients_.emplace(key, std::move(c)).first->second;
}

HttpResponse HttpSession::request(const std::string& method, const Url& url, const HeaderMap& headers,
                                  const HeadersFn& on_headers, const BodyFn& on_body, size_t body_cap) {
  httplib::Client& c = client_for(url);
  HttpResponse out;
  httplib::Headers h = to_httplib(headers);
  if (method == "HEAD") {
    auto res = c.Head(url.target, h);
    if (!res) {
      clients_.erase(url.origin());
      throw_network(res.error(), url);
    }
    copy_headers(res.value(), out);
    if (on_headers) on_headers(out);
    return out;
  }
  bool streaming = false;
  bool stopped_by_caller = false;
  auto res = c.Get(
      url.target, h,
      [&](const httplib::Response& r) {
        copy_headers(r, out);
        streaming = on_body && r.status >= 200 && r.status < 300;
        if (on_headers && !on_headers(out)) {
          stopped_by_caller = true;
          return false;
        }
        return true;
      },
      [&](const char* data, size_t n) {
        if (streaming) {
          if (!on_body(data, n)) {
            stopped_by_caller = true;
            return false;
          }
          return true;
        }
        if (out.body.size() < body_cap) out.body.append(data, std::min(n, body_cap - out.body.size()));
        return true;
      });
  if (!res) {
    clients_.erase(url.origin());  // the connection state is unknown: never reuse it
    if (stopped_by_caller && res.error() == httplib::Error::Canceled) return out;
    throw_network(res.error(), url);
  }
  return out;
}

}  // namespace ft::hub
