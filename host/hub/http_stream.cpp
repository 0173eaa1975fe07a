// StreamClient: non-blocking sockets waited on with poll() in short slices (so a cancel flag is seen
// within 200 ms), an optional OpenSSL session on top, a small read-ahead buffer for the status line,
// headers and chunk lines, and body bytes read straight into the sink's buffers.
#include "hub/http_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/strings.h"

namespace ft::hub {
namespace {

constexpr int kPollSliceMs = 200;            // how often a wait looks at the cancel flag
constexpr size_t kHeadMax = 64u << 10;       // status line + headers
constexpr size_t kAheadSize = 64u << 10;     // read-ahead for heads and chunk lines
constexpr size_t kOtherBodyCap = 64u << 10;  // bodies of non-2xx answers kept for messages
constexpr uint64_t kDrainMax = 1u << 20;     // a longer non-2xx body closes the connection instead
// A buffer that has not filled up in this long is handed over as it is, so that on a slow link the
// progress display and the resume bookkeeping still move several times a second.
constexpr auto kHandOverAfter = std::chrono::milliseconds(200);

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// One SSL_CTX per CA choice for the process: set up once, then only used to create sessions.
SSL_CTX* tls_context(const std::string& ca_file) {
  static std::mutex mu;
  static std::map<std::string, SSL_CTX*> contexts;
  std::lock_guard<std::mutex> lk(mu);
  auto it = contexts.find(ca_file);
  if (it != contexts.end()) return it->second;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) throw Error("cannot set up TLS: " + openssl_error());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // A peer closing without close_notify reads as end of stream; the body length checks catch a
  // truncated transfer.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                           : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (ok != 1) {
    std::string why = openssl_error();
    SSL_CTX_free(ctx);
    throw Error("cannot load the TLS certificate authorities" +
                    (ca_file.empty() ? std::string(" of the system") : " from '" + ca_file + "'") + ": " +
                    why,
                "point REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) at a PEM bundle");
  }
  contexts.emplace(ca_file, ctx);
  return ctx;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// Collects a non-2xx body into a string, keeping at most `cap` bytes.
class StringSink : public BodySink {
 public:
  StringSink(std::string& out, size_t cap) : out_(out), cap_(cap) {}
  Buffer buffer() override { return {buf_, sizeof buf_}; }
  bool received(size_t n) override {
    if (out_.size() < cap_) out_.append(buf_, std::min(n, cap_ - out_.size()));
    return true;
  }

 private:
  std::string& out_;
  size_t cap_;
  char buf_[16384];
};

}  // namespace

// ---- one connection and its I/O ------------------------------------------------------------------
struct StreamClient::Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  int served = 0;  // requests answered on this connection
  std::vector<char> ahead = std::vector<char>(kAheadSize);
  size_t apos = 0, aend = 0;
  Url url;  // for messages
  double read_timeout_s = 10;
  const std::atomic<bool>* cancel = nullptr;

  ~Conn() { close(); }
  void close() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
    ssl = nullptr;
    fd = -1;
    served = 0;
    apos = aend = 0;
  }
  [[noreturn]] void fail(const std::string& what, bool timeout = false) const {
    throw HttpError("network error talking to " + url.origin() + ": " + what, timeout);
  }

  // Waits until the socket is readable (or writable), `timeout_s` at most.
  void wait(bool for_write, double timeout_s) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      if (cancel && cancel->load()) fail("cancelled");
      pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
      int r = ::poll(&p, 1, kPollSliceMs);
      if (r > 0) return;  // ready, or an error the next call reports
      if (r < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
      if (std::chrono::steady_clock::now() >= deadline)
        fail("no data for " + std::to_string(static_cast<int>(timeout_s)) + " s (timeout)", true);
    }
  }

  // Reads up to n bytes; 0 at the end of the stream.
  size_t read_some(char* p, size_t n) {
    for (;;) {
      if (ssl) {
        ERR_clear_error();
        int r = SSL_read(ssl, p, static_cast<int>(std::min<size_t>(n, INT_MAX)));
        if (r > 0) return static_cast<size_t>(r);
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          wait(e == SSL_ERROR_WANT_WRITE, read_timeout_s);
          continue;
        }
        if (e == SSL_ERROR_SYSCALL && errno == 0) return 0;
        fail(e == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno)) : openssl_error());
      }
      ssize_t r = ::recv(fd, p, n, 0);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait(false, read_timeout_s);
        continue;
      }
      fail(std::strerror(errno));
    }
  }

  void write_all(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      if (ssl) {
        ERR_clear_error();
        int r =
            SSL_write(ssl, data.data() + off, static_cast<int>(std::min<size_t>(data.size() - off, INT_MAX)));
        if (r > 0) {
          off += static_cast<size_t>(r);
          continue;
        }
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          wait(e == SSL_ERROR_WANT_WRITE, read_timeout_s);
          continue;
        }
        fail(e == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno)) : openssl_error());
      }
      ssize_t r = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (r >= 0) {
        off += static_cast<size_t>(r);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait(true, read_timeout_s);
      } else if (errno != EINTR) {
        fail(std::strerror(errno));
      }
    }
  }

  // Pulls more bytes into the read-ahead buffer; false at the end of the stream.
  bool fill_ahead() {
    if (apos > 0) {
      std::memmove(ahead.data(), ahead.data() + apos, aend - apos);
      aend -= apos;
      apos = 0;
    }
    if (aend == ahead.size())
      fail("a header or chunk line longer than " + std::to_string(kAheadSize) + " bytes");
    size_t n = read_some(ahead.data() + aend, ahead.size() - aend);
    aend += n;
    return n > 0;
  }

  std::string read_line() {
    for (;;) {
      const char* b = ahead.data() + apos;
      const char* e = static_cast<const char*>(std::memchr(b, '\n', aend - apos));
      if (e) {
        std::string line(b, static_cast<size_t>(e - b));
        apos += line.size() + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (!fill_ahead()) fail("the connection closed in the middle of a chunked body");
    }
  }

  void connect(const Url& u, double connect_timeout_s, const std::string& ca_file) {
    close();
    url = u;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int g = ::getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
    if (g != 0) fail("cannot resolve host '" + u.host + "': " + gai_strerror(g));
    std::string last = "no address";
    bool timed_out = false;
    for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        last = std::strerror(errno);
        continue;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
        last = std::strerror(errno);
        ::close(fd);
        fd = -1;
        continue;
      }
      try {
        wait(true, connect_timeout_s);
      } catch (const HttpError& e) {
        ::freeaddrinfo(res);
        close();
        throw;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = std::strerror(err);
        timed_out = err == ETIMEDOUT;
        ::close(fd);
        fd = -1;
      }
    }
    ::freeaddrinfo(res);
    if (fd < 0) fail("cannot connect: " + last, timed_out);
    if (u.scheme == "https") handshake(u, connect_timeout_s, ca_file);
  }

  void handshake(const Url& u, double timeout_s, const std::string& ca_file) {
    ssl = SSL_new(tls_context(ca_file));
    if (!ssl) fail("cannot start TLS: " + openssl_error());
    SSL_set_fd(ssl, fd);
    if (is_ip_literal(u.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, u.host.c_str());
      SSL_set1_host(ssl, u.host.c_str());
    }
    for (;;) {
      ERR_clear_error();
      int r = SSL_connect(ssl);
      if (r == 1) return;
      int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        wait(e == SSL_ERROR_WANT_WRITE, timeout_s);
        continue;
      }
      long v = SSL_get_verify_result(ssl);
      if (v != X509_V_OK)  // not a network hiccup: retrying cannot help
        throw Error("TLS certificate of " + u.origin() + " not trusted: " + X509_verify_cert_error_string(v),
                    "if a proxy re-signs TLS traffic, point REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) at its CA "
                    "bundle");
      fail("TLS handshake failed: " +
           (e == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno)) : openssl_error()));
    }
  }
};

// ---- body transfer ------------------------------------------------------------------------------
namespace {

// Moves body bytes into a sink's buffers, handing each buffer over when it is full.
struct Pump {
  StreamClient::Conn& c;  // NOLINT: a short-lived view
  BodySink& sink;
  BodySink::Buffer buf{nullptr, 0};
  size_t filled = 0;
  bool stopped = false;
  std::chrono::steady_clock::time_point since{};  // when `buf` was taken

  bool hand_over() {
    if (filled > 0 && !sink.received(filled)) stopped = true;
    buf = {nullptr, 0};
    filled = 0;
    return !stopped;
  }
  // Moves `n` bytes (or, when `to_eof`, everything up to the end of the stream). False when the sink
  // stopped the transfer. Bytes already read are handed over before an error is thrown.
  bool move(uint64_t n, bool to_eof) {
    uint64_t moved = 0;
    while (to_eof || moved < n) {
      if (filled == buf.size) {
        if (!hand_over()) return false;
        buf = sink.buffer();
        since = std::chrono::steady_clock::now();
      }
      size_t want = buf.size - filled;
      if (!to_eof) want = static_cast<size_t>(std::min<uint64_t>(want, n - moved));
      size_t got;
      if (c.apos < c.aend) {
        got = std::min(want, c.aend - c.apos);
        std::memcpy(buf.data + filled, c.ahead.data() + c.apos, got);
        c.apos += got;
      } else {
        try {
          got = c.read_some(buf.data + filled, want);
        } catch (const HttpError&) {
          hand_over();
          throw;
        }
      }
      if (got == 0) {
        if (!hand_over() || to_eof) return !stopped;
        c.fail("the connection closed after " + std::to_string(moved) + " of " + std::to_string(n) +
               " body bytes");
      }
      filled += got;
      moved += got;
      if (filled < buf.size && std::chrono::steady_clock::now() - since > kHandOverAfter && !hand_over())
        return false;
    }
    return true;
  }
};

}  // namespace

StreamClient::StreamClient(double connect_timeout_s, double read_timeout_s, std::string ca_file,
                           const std::atomic<bool>* cancel)
    : connect_timeout_s_(connect_timeout_s),
      read_timeout_s_(read_timeout_s),
      ca_file_(std::move(ca_file)),
      cancel_(cancel) {}

StreamClient::~StreamClient() = default;

HttpResponse StreamClient::get(const Url& url, const HeaderMap& headers, const HeadersFn& on_headers,
                               BodySink& sink) {
  auto& slot = conns_[url.origin()];
  if (!slot) slot = std::make_unique<Conn>();
  Conn& c = *slot;
  c.read_timeout_s = read_timeout_s_;
  c.cancel = cancel_;
  try {
    // A kept-alive connection the server has closed meanwhile fails before any answer byte: that
    // one failure is retried at once on a fresh connection.
    bool stale = false;
    if (c.fd >= 0) {
      try {
        return get_once(c, url, headers, on_headers, sink, &stale);
      } catch (const HttpError&) {
        if (!stale) throw;
      }
    }
    c.connect(url, connect_timeout_s_, ca_file_);
    return get_once(c, url, headers, on_headers, sink, &stale);
  } catch (...) {
    c.close();
    throw;
  }
}

HttpResponse StreamClient::get_once(Conn& c, const Url& url, const HeaderMap& headers,
                                    const HeadersFn& on_headers, BodySink& sink, bool* stale) {
  bool reused = c.served > 0;
  *stale = reused;
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != (url.scheme == "https" ? 443 : 80)) host += ":" + std::to_string(url.port);
  std::string req = "GET " + url.target + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  c.write_all(req);

  HttpResponse out;
  bool http10 = false;
  for (;;) {  // skips interim 1xx answers
    std::string line;
    for (;;) {
      const char* b = c.ahead.data() + c.apos;
      const char* e = static_cast<const char*>(std::memchr(b, '\n', c.aend - c.apos));
      if (e) {
        line.assign(b, static_cast<size_t>(e - b));
        c.apos += line.size() + 1;
        break;
      }
      if (!c.fill_ahead()) c.fail("the connection closed before an answer");
      *stale = false;
    }
    *stale = false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    int status = 0;
    char minor = 0;
    if (std::sscanf(line.c_str(), "HTTP/1.%c %d", &minor, &status) != 2 || status < 100 || status > 999)
      c.fail("not an HTTP/1.x status line: '" + line.substr(0, 80) + "'");
    http10 = minor == '0';
    out.status = status;
    out.headers.clear();
    size_t head_bytes = 0;
    for (;;) {
      std::string h = c.read_line();
      head_bytes += h.size();
      if (head_bytes > kHeadMax) c.fail("answer headers longer than " + std::to_string(kHeadMax) + " bytes");
      if (h.empty()) break;
      auto colon = h.find(':');
      if (colon == std::string::npos) c.fail("malformed header line '" + h.substr(0, 80) + "'");
      out.headers.emplace(trim(h.substr(0, colon)), trim(h.substr(colon + 1)));
    }
    if (status >= 200 || status == 101) break;
  }
  ++c.served;

  std::string conn_hdr = lower(out.header("Connection"));
  bool keep_alive = http10 ? conn_hdr == "keep-alive" : conn_hdr != "close";
  bool chunked = lower(out.header("Transfer-Encoding")).find("chunked") != std::string::npos;
  bool has_length = out.has("Content-Length");
  uint64_t length = 0;
  if (has_length && !chunked) {
    std::string v = out.header("Content-Length");
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 19)
      c.fail("bad Content-Length '" + v + "'");
    length = std::stoull(v);
  }
  bool no_body = out.status == 204 || out.status == 304 || (out.status >= 100 && out.status < 200);
  if (on_headers && !on_headers(out)) {
    c.close();
    return out;
  }
  if (no_body) {
    if (!keep_alive) c.close();
    return out;
  }
  bool to_sink = out.status >= 200 && out.status < 300;
  if (!to_sink && has_length && !chunked && length > kDrainMax) {
    c.close();  // cheaper than reading a long error page we would throw away
    return out;
  }
  StringSink keep(out.body, kOtherBodyCap);
  Pump pump{c, to_sink ? sink : static_cast<BodySink&>(keep)};
  bool complete;
  if (chunked) {
    complete = true;
    for (;;) {
      std::string line = c.read_line();
      char* end = nullptr;
      unsigned long long n = std::strtoull(line.c_str(), &end, 16);
      if (end == line.c_str()) c.fail("bad chunk size line '" + line.substr(0, 80) + "'");
      if (n == 0) {
        while (!c.read_line().empty()) {  // trailers
        }
        break;
      }
      if (!pump.move(n, false)) {
        complete = false;
        break;
      }
      if (!c.read_line().empty()) c.fail("a chunk is longer than its size line says");
    }
    if (complete) complete = pump.hand_over();
  } else if (has_length) {
    complete = pump.move(length, false) && pump.hand_over();
  } else {
    pump.move(0, true);
    complete = false;  // ends with the connection
  }
  if (!complete || !keep_alive) c.close();
  return out;
}

}  // namespace ft::hub
