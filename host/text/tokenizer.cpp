// What every Tokenizer shares: batch encoding across threads (results in input order, the first
// failure rethrown on the calling thread, Ctrl-C honoured between texts).
#include "text/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include "core/interrupt.h"

namespace ft::text {

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_special,
                                              int threads) const {
  std::vector<Encoding> out(texts.size());
  size_t n = threads > 0 ? static_cast<size_t>(threads) : std::max(1u, std::thread::hardware_concurrency());
  n = std::min(n, texts.size());
  if (n <= 1) {
    for (size_t i = 0; i < texts.size(); ++i) {
      check_interrupt();
      out[i] = encode(texts[i], add_special);
    }
    return out;
  }
  // Texts are handed out one at a time from a shared counter, so long and short texts balance.
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&] {
    for (;;) {
      if (failed.load(std::memory_order_relaxed) || interrupt_requested()) return;
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= texts.size()) return;
      try {
        out[i] = encode(texts[i], add_special);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed.store(true);
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(n - 1);
  for (size_t t = 0; t + 1 < n; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
  check_interrupt();
  return out;
}

}  // namespace ft::text
