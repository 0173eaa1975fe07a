// Progress rendering: TTY redraw block or periodic plain log lines.
#include "hub/progress.h"

#include <cstdio>

#include "core/strings.h"

namespace ft::hub {

Progress::Progress(bool enabled, bool tty, double log_every_s)
    : enabled_(enabled), tty_(tty), log_every_s_(log_every_s), start_(std::chrono::steady_clock::now()) {
  if (enabled_) thread_ = std::thread([this] { run(); });
}

Progress::~Progress() {
  close();
}

Progress::File* Progress::add_file(const std::string& name, uint64_t total, uint64_t already) {
  std::lock_guard<std::mutex> lk(mu_);
  files_.push_back(std::make_unique<File>());
  File* f = files_.back().get();
  f->name = name;
  f->total = total;
  f->done = already;
  f->base = already;
  f->start = std::chrono::steady_clock::now();
  total_ += total;
  done_ += already;
  return f;
}

void Progress::advance(File* f, uint64_t n) {
  f->done += n;
  done_ += n;
  transferred_ += n;
}

void Progress::rewind(File* f, uint64_t n) {
  f->done -= n;
  done_ -= n;
}

void Progress::finish(File* f) {
  if (f->finished.exchange(true)) return;
  if (enabled_ && !tty_) {
    std::fprintf(stderr, "hub: fetched %s (%s)\n", f->name.c_str(), human_bytes(f->total).c_str());
  }
}

void Progress::close() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_) return;
    closed_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (enabled_) draw(true);
}

std::string Progress::line_for(const std::string& name, uint64_t done, uint64_t total, double rate) const {
  char buf[256];
  double pct = total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
  std::string eta = "-";
  if (rate > 1 && total > done) {
    double s = static_cast<double>(total - done) / rate;
    char e[32];
    std::snprintf(e, sizeof e, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
    eta = e;
  }
  std::snprintf(buf, sizeof buf, "%-40.40s %10s / %-10s %5.1f%%  %10s/s  ETA %s", name.c_str(),
                human_bytes(done).c_str(), human_bytes(total).c_str(), pct,
                human_bytes(static_cast<uint64_t>(rate)).c_str(), eta.c_str());
  return buf;
}

void Progress::draw(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? static_cast<double>(transferred_.load()) / secs : 0;
  if (!tty_) {
    std::fprintf(stderr, "hub: %s\n", line_for(final ? "done" : "total", done_, total_, rate).c_str());
    return;
  }
  std::string out;
  for (size_t i = 0; i < drawn_lines_; ++i) out += "\x1b[1A\x1b[2K";
  size_t lines = 0;
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& f : files_) {
    if (f->finished && !final) continue;  // finished files leave the block
    if (lines >= 8) break;
    double fs = std::chrono::duration<double>(std::chrono::steady_clock::now() - f->start).count();
    double frate = fs > 0 ? static_cast<double>(f->done - f->base) / fs : 0;
    out += line_for(f->name, f->done, f->total, frate) + "\n";
    ++lines;
  }
  out += line_for("total", done_, total_, rate) + "\n";
  drawn_lines_ = lines + 1;
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
}

void Progress::run() {
  auto period = tty_ ? std::chrono::milliseconds(100)
                     : std::chrono::milliseconds(static_cast<int>(log_every_s_ * 1000));
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    if (cv_.wait_for(lk, period, [this] { return stop_; })) break;
    lk.unlock();
    draw(false);
    lk.lock();
  }
}

}  // namespace ft::hub
