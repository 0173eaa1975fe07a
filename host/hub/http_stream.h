// The download path's HTTP/1.1 client: one GET at a time on a kept-alive connection per origin
// (plain TCP, or TLS on OpenSSL with the system CA store and a host name check), reading file bodies
// in large pieces straight into buffers the caller lends. API calls stay on cpp-httplib (http.h),
// which reads bodies 4 KiB at a time through a std::function call per piece: too slow for GiB blobs.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "hub/http.h"
#include "hub/url.h"

namespace ft::hub {

// Where a 2xx body goes. buffer() names the memory the next bytes are read into; received(n) says
// that its first n bytes are filled (n > 0); returning false stops the transfer (the connection is
// dropped). Bytes that arrived before a connection failure are handed over before the HttpError.
class BodySink {
 public:
  virtual ~BodySink() = default;
  struct Buffer {
    char* data;
    size_t size;
  };
  virtual Buffer buffer() = 0;
  virtual bool received(size_t n) = 0;
};

class StreamClient {
 public:
  // `ca_file`: a PEM bundle to trust instead of the system store ("" = system store). `cancel`, when
  // given, is polled while waiting for the network: once true, the request ends with an HttpError.
  StreamClient(double connect_timeout_s, double read_timeout_s, std::string ca_file,
               const std::atomic<bool>* cancel = nullptr);
  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // GET without following redirects. `on_headers` sees the status and headers first (false: stop).
  // A 2xx body goes to `sink`; other bodies are kept in the response (at most 64 KiB). Throws
  // HttpError on a network failure (connect, TLS, reset, timeout, malformed answer, early end).
  HttpResponse get(const Url& url, const HeaderMap& headers, const HeadersFn& on_headers, BodySink& sink);

  struct Conn;  // one connection (defined in the .cpp)

 private:
  HttpResponse get_once(Conn& c, const Url& url, const HeaderMap& headers, const HeadersFn& on_headers,
                        BodySink& sink, bool* stale);
  double connect_timeout_s_, read_timeout_s_;
  std::string ca_file_;
  const std::atomic<bool>* cancel_;
  std::map<std::string, std::unique_ptr<Conn>> conns_;  // by origin
};

}  // namespace ft::hub
