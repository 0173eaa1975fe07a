// Retry policy shared by metadata calls and blob fetches: which answers are retryable (network errors,
// timeouts, 429, 5xx), how long to wait (exponential backoff, or the server's Retry-After), and
// sleeping in small steps so Ctrl-C and cancellation are seen promptly.
#pragma once

#include <atomic>
#include <string>

#include "hub/config.h"
#include "hub/http.h"

namespace ft::hub {

bool retryable_status(int status);  // 429, 500, 502, 503, 504 and other 5xx
// Delay before the attempt after `failures` consecutive failures (1-based); honours Retry-After
// (delta-seconds) from `r` when given, capped at cfg.retry_after_max_s.
double retry_delay_s(const HubConfig& cfg, int failures, const HttpResponse* r);
// Sleeps up to `seconds`; returns false early when `cancel` becomes true or an interrupt is pending.
bool sleep_cancellable(double seconds, const std::atomic<bool>* cancel = nullptr);

}  // namespace ft::hub
