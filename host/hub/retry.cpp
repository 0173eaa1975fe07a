// Backoff and Retry-After handling.
#include "hub/retry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "core/interrupt.h"

namespace ft::hub {

bool retryable_status(int status) {
  return status == 429 || (status >= 500 && status <= 599);
}

double retry_delay_s(const HubConfig& cfg, int failures, const HttpResponse* r) {
  if (r) {
    std::string ra = r->header("Retry-After");
    if (!ra.empty() && ra.find_first_not_of("0123456789.") == std::string::npos)
      return std::min(std::strtod(ra.c_str(), nullptr), cfg.retry_after_max_s);
  }
  double d = cfg.backoff_base_s * std::pow(2.0, std::max(0, failures - 1));
  return std::min(d, cfg.backoff_max_s);
}

bool sleep_cancellable(double seconds, const std::atomic<bool>* cancel) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if ((cancel && cancel->load()) || interrupt_requested()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace ft::hub
