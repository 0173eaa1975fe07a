#include "core/interrupt.h"

#include "core/error.h"

namespace ft {
namespace {
std::atomic<bool> g_interrupt{false};
static_assert(std::atomic<bool>::is_always_lock_free, "signal handlers need a lock-free flag");
}  // namespace

void request_interrupt() noexcept { g_interrupt.store(true, std::memory_order_relaxed); }
void clear_interrupt() noexcept { g_interrupt.store(false, std::memory_order_relaxed); }
bool interrupt_requested() noexcept { return g_interrupt.load(std::memory_order_relaxed); }

void check_interrupt() {
  if (g_interrupt.exchange(false, std::memory_order_relaxed)) throw Interrupted();
}

}  // namespace ft
