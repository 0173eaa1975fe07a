// Cooperative interruption. The runtime's SIGINT handler calls request_interrupt(); long native loops
// call check_interrupt() at safe points, which throws ft::Interrupted so state unwinds cleanly.
#pragma once

#include <atomic>

namespace ft {

void request_interrupt() noexcept;   // async-signal-safe
void clear_interrupt() noexcept;
bool interrupt_requested() noexcept;
// Throws ft::Interrupted if an interrupt is pending (and clears it).
void check_interrupt();

}  // namespace ft
