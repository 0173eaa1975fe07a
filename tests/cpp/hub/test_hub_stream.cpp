// The download path's HTTP/1.1 client (hub/http_stream.h) against cpp-httplib servers on loopback:
// Content-Length and chunked bodies delivered through lent buffers (slow ones handed over in time),
// non-2xx bodies kept for messages, a kept-alive connection the server closed meanwhile, bytes handed
// over before an early end, and TLS with a self-signed certificate (trusted through a CA file; refused
// by the system store).
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "core/error.h"
#include "fake_hub.h"
#include "hub/http_stream.h"
#include "hub_test_util.h"

using namespace ft::hub;

namespace {

// Collects a body in buffers of `piece` bytes and records how many buffers were filled.
class Collect : public BodySink {
 public:
  explicit Collect(size_t piece) : buf_(piece) {}
  Buffer buffer() override { return {buf_.data(), buf_.size()}; }
  bool received(size_t n) override {
    BOOST_TEST(n > 0u);
    BOOST_TEST(n <= buf_.size());
    body.append(buf_.data(), n);
    ++pieces;
    return true;
  }
  std::string body;
  int pieces = 0;

 private:
  std::vector<char> buf_;
};

// A cpp-httplib server on 127.0.0.1 in a thread of its own for the length of a test.
struct Served {
  explicit Served(std::unique_ptr<httplib::Server> s) : srv(std::move(s)) {
    port = srv->bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { srv->listen_after_bind(); });
    while (!srv->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Served() {
    srv->stop();
    thread.join();
  }
  std::unique_ptr<httplib::Server> srv;
  std::thread thread;
  int port = 0;
};

void add_routes(httplib::Server& s, const std::string& blob) {
  s.Get("/blob", [blob](const httplib::Request&, httplib::Response& res) {
    res.set_content(blob, "application/octet-stream");
  });
  s.Get("/chunked", [blob](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider(
        "application/octet-stream", [blob](size_t offset, httplib::DataSink& sink) {
          if (offset >= blob.size()) {
            sink.done();
            return true;
          }
          size_t n = std::min<size_t>(7777, blob.size() - offset);  // odd chunk sizes
          return sink.write(blob.data() + offset, n);
        });
  });
  s.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_header("X-Error-Code", "EntryNotFound");
    res.set_content("no such file", "text/plain");
  });
  s.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    // 5 x 10000 bytes, 300 ms apart.
    res.set_content_provider(50000, "application/octet-stream",
                             [](size_t offset, size_t, httplib::DataSink& sink) {
                               if (offset > 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
                               std::string part(10000, static_cast<char>('a' + offset / 10000));
                               return sink.write(part.data(), part.size());
                             });
  });
  s.Get("/short", [](const httplib::Request&, httplib::Response& res) {
    // Announces 1 MiB, sends 300000 bytes, then drops the connection.
    res.set_content_provider(1u << 20, "application/octet-stream",
                             [](size_t offset, size_t, httplib::DataSink& sink) {
                               if (offset >= 300000) return false;
                               std::string part(100000, 'x');
                               return sink.write(part.data(), part.size());
                             });
  });
}

Url local(const std::string& scheme, int port, const std::string& path) {
  return parse_url(scheme + "://127.0.0.1:" + std::to_string(port) + path);
}

// A self-signed certificate for IP 127.0.0.1 (EC P-256), written as PEM files into `dir`.
void make_cert(const std::string& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  BOOST_REQUIRE(key);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (const char* ext : {"subjectAltName=IP:127.0.0.1", "basicConstraints=critical,CA:TRUE"}) {
    std::string e(ext);
    auto eq = e.find('=');
    X509_EXTENSION* xe = X509V3_EXT_conf(nullptr, &ctx, e.substr(0, eq).c_str(), e.substr(eq + 1).c_str());
    BOOST_REQUIRE(xe);
    X509_add_ext(x, xe, -1);
    X509_EXTENSION_free(xe);
  }
  BOOST_REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  FILE* f = std::fopen((dir + "/cert.pem").c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen((dir + "/key.pem").c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hub_stream)

BOOST_AUTO_TEST_CASE(length_and_chunked_bodies_in_lent_buffers) {
  std::string blob = fakehub::fake_bytes(3u << 20, 7);
  auto srv = std::make_unique<httplib::Server>();
  add_routes(*srv, blob);
  Served s(std::move(srv));
  StreamClient c(5, 5, "");
  for (const char* path : {"/blob", "/chunked", "/blob"}) {  // the third reuses the connection
    Collect sink(1u << 20);
    int seen_status = 0;
    HttpResponse r = c.get(
        local("http", s.port, path), {{"Accept-Encoding", "identity"}},
        [&](const HttpResponse& h) {
          seen_status = h.status;
          return true;
        },
        sink);
    BOOST_TEST(r.status == 200);
    BOOST_TEST(seen_status == 200);
    BOOST_TEST(sink.body.size() == blob.size());
    BOOST_TEST((sink.body == blob));
    if (std::string(path) == "/blob") BOOST_TEST(sink.pieces == 3);  // whole 1 MiB buffers, not socket reads
  }
}

BOOST_AUTO_TEST_CASE(a_slow_body_is_handed_over_before_the_buffer_fills) {
  auto srv = std::make_unique<httplib::Server>();
  add_routes(*srv, "");
  Served s(std::move(srv));
  StreamClient c(5, 5, "");
  Collect sink(1u << 20);
  HttpResponse r = c.get(local("http", s.port, "/slow"), {}, nullptr, sink);
  BOOST_TEST(r.status == 200);
  std::string expect;
  for (char ch : std::string("abcde")) expect += std::string(10000, ch);
  BOOST_TEST(sink.body == expect);
  // Without the hand-over the 1 MiB buffer would come in one piece at the end; with it, a piece at
  // most ~200 ms plus one read after the buffer was taken.
  BOOST_TEST(sink.pieces >= 3);
}

BOOST_AUTO_TEST_CASE(error_bodies_stale_connections_and_early_ends) {
  std::string blob = fakehub::fake_bytes(100000, 9);
  auto srv = std::make_unique<httplib::Server>();
  add_routes(*srv, blob);
  srv->set_keep_alive_timeout(1);
  Served s(std::move(srv));
  StreamClient c(5, 5, "");

  Collect none(65536);
  HttpResponse r = c.get(local("http", s.port, "/missing"), {}, nullptr, none);
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.header("X-Error-Code") == "EntryNotFound");
  BOOST_TEST(r.body == "no such file");
  BOOST_TEST(none.body.empty());  // a non-2xx body never reaches the sink

  // The server drops the idle connection after 1 s: the next request must reconnect, not fail.
  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  Collect again(65536);
  r = c.get(local("http", s.port, "/blob"), {}, nullptr, again);
  BOOST_TEST(r.status == 200);
  BOOST_TEST((again.body == blob));

  // 300000 of 1 MiB, then the connection drops: the bytes that came are handed over, then HttpError.
  Collect part(1u << 20);
  try {
    c.get(local("http", s.port, "/short"), {}, nullptr, part);
    BOOST_FAIL("a truncated body must throw");
  } catch (const HttpError& e) {
    BOOST_TEST(std::string(e.what()).find("the connection closed after 300000 of 1048576 body bytes") !=
               std::string::npos);
  }
  BOOST_TEST(part.body == std::string(300000, 'x'));
}

BOOST_AUTO_TEST_CASE(tls_with_a_ca_file_and_without) {
  std::string dir = hubtest::make_temp_dir();
  make_cert(dir);
  std::string blob = fakehub::fake_bytes(2u << 20, 11);
  auto srv = std::make_unique<httplib::SSLServer>((dir + "/cert.pem").c_str(), (dir + "/key.pem").c_str());
  BOOST_REQUIRE(srv->is_valid());
  add_routes(*srv, blob);
  Served s(std::move(srv));

  StreamClient trusted(5, 5, dir + "/cert.pem");
  Collect sink(1u << 20);
  HttpResponse r = trusted.get(local("https", s.port, "/blob"), {}, nullptr, sink);
  BOOST_TEST(r.status == 200);
  BOOST_TEST((sink.body == blob));

  StreamClient system_store(5, 5, "");
  Collect refused(1u << 20);
  try {
    system_store.get(local("https", s.port, "/blob"), {}, nullptr, refused);
    BOOST_FAIL("a self-signed certificate must not be trusted by the system store");
  } catch (const ft::Error& e) {
    std::string m = e.what();
    BOOST_TEST(m.find("TLS certificate of https://127.0.0.1:" + std::to_string(s.port) +
                      " not trusted: self") != std::string::npos);
    BOOST_TEST(m.find("REQUESTS_CA_BUNDLE") != std::string::npos);
  }
  BOOST_TEST(refused.body.empty());
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
