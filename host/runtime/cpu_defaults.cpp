// OMP_WAIT_POLICY=PASSIVE as fthost's default: an idle OpenMP thread sleeps instead of spinning for up
// to 300000 pause loops. On a machine shared with other work (CI, a laptop, 2 cores) spinning workers
// burn the time slices that the thread holding up the barrier needs: a 20M-parameter training step ran
// 3-4x slower with libgomp's spinning default (tests/bench/train_step.sh); a sleeping wait costs a futex
// wake per parallel region (microseconds), which training-sized ops do not notice.
// libgomp reads the variable once, in its load-time constructor, and glibc resets `environ` to the
// original block after an executable's .preinit_array runs (a setenv there is lost). So the preinit
// entry below re-executes fthost (/proc/self/exe, same argv) with the variable added: one extra program
// load (~0.15 s CPU) per start. A value the user set is kept, and then nothing is re-executed.
// Runs before libc++/libstdc++ initialisation: plain C library calls only.
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {

bool starts_with(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

bool multicore() {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) > 1;
}

void set_cpu_defaults(int, char** argv, char** envp) {
  if (!argv || !envp) return;
  bool has_wait = false;
  size_t n = 0;
  for (; envp[n]; ++n) {
    has_wait = has_wait || starts_with(envp[n], "OMP_WAIT_POLICY=");
    // Under valgrind the re-executed program would escape the tool (no --trace-children).
    if (starts_with(envp[n], "LD_PRELOAD=") && std::strstr(envp[n], "vgpreload")) return;
  }
  if (has_wait || !multicore()) return;
  auto** env = static_cast<char**>(std::malloc((n + 2) * sizeof(char*)));
  if (!env) return;
  std::memcpy(env, envp, n * sizeof(char*));
  env[n] = const_cast<char*>("OMP_WAIT_POLICY=PASSIVE");
  env[n + 1] = nullptr;
  execve("/proc/self/exe", argv, env);
  std::free(env);  // no /proc: run with the libraries' own defaults
}

}  // namespace

// Executables only (this file is part of fthost's runtime objects).
__attribute__((section(".preinit_array"), used)) void (*ft_cpu_defaults_preinit)(int, char**,
                                                                                 char**) = set_cpu_defaults;
