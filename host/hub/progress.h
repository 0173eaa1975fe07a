// Download progress: per-file and total bytes, rate and ETA. On a terminal it redraws a small block of
// lines on stderr ten times a second; otherwise it prints a plain log line every few seconds and one
// per finished file. Thread-safe: fetch workers only touch atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ft::hub {

class Progress {
 public:
  struct File {
    std::string name;
    uint64_t total = 0;
    std::atomic<uint64_t> done{0};
    std::atomic<bool> finished{false};
    uint64_t base = 0;  // bytes present when the file was added (not part of its rate)
    std::chrono::steady_clock::time_point start;
  };

  // enabled=false records numbers but prints nothing. tty: redraw mode; log_every_s for plain mode.
  Progress(bool enabled, bool tty, double log_every_s = 5);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Registers a file; `already` bytes are present (resumed or cached) and count as done, not as rate.
  File* add_file(const std::string& name, uint64_t total, uint64_t already = 0);
  void advance(File* f, uint64_t n);
  void rewind(File* f, uint64_t n);  // bytes thrown away (a 200 answer to a Range request restarts)
  void finish(File* f);
  void close();  // final line; idempotent

  uint64_t total_bytes() const { return total_.load(); }
  uint64_t done_bytes() const { return done_.load(); }

 private:
  void run();
  void draw(bool final);
  std::string line_for(const std::string& name, uint64_t done, uint64_t total, double rate) const;

  bool enabled_, tty_;
  double log_every_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<File>> files_;
  std::atomic<uint64_t> total_{0}, done_{0}, transferred_{0};
  std::chrono::steady_clock::time_point start_;
  size_t drawn_lines_ = 0;
  bool stop_ = false, closed_ = false;
  std::thread thread_;
};

}  // namespace ft::hub
