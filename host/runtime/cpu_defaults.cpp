// GOMP_SPINCOUNT=3000 as fthost's default: an idle OpenMP thread spins ~3000 pause loops (tens of
// microseconds) before it sleeps, instead of libgomp's 300000 (milliseconds). On a machine shared with
// other work (CI, a laptop, 2 cores) long spins burn the time slices that the thread holding up the
// barrier needs: at load average ~10 a 20M-parameter training step ran 3-4x slower with the default than
// with no spinning at all (OMP_WAIT_POLICY=PASSIVE; tests/bench/train_step.sh). On an idle machine never
// spinning costs ~10%, and a short spin catches the next parallel region of a step (idle 2-core step:
// 0.75 s passive, 0.70 s default, 0.68 s with 3000; 3000 loops was not measured under load).
// libgomp reads the variable once, in its load-time constructor, and glibc resets `environ` to the
// original block after an executable's .preinit_array runs (a setenv there is lost). So the preinit
// entry below re-executes fthost (/proc/self/exe, same argv) with the variable added: one extra program
// load (~0.15-0.25 s) per start. When the user set GOMP_SPINCOUNT or OMP_WAIT_POLICY, nothing changes and
// nothing is re-executed; `fthost download` and `fthost help` are never re-executed.
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

// Commands that run no tensor work: the re-execution (~0.25 s of a start-up) buys them nothing.
bool runs_no_tensor_work(int argc, char** argv) {
  return argc > 1 && (std::strcmp(argv[1], "download") == 0 || std::strcmp(argv[1], "help") == 0);
}

void set_cpu_defaults(int argc, char** argv, char** envp) {
  if (!argv || !envp || runs_no_tensor_work(argc, argv)) return;
  bool has_setting = false;
  size_t n = 0;
  for (; envp[n]; ++n) {
    has_setting =
        has_setting || starts_with(envp[n], "OMP_WAIT_POLICY=") || starts_with(envp[n], "GOMP_SPINCOUNT=");
    // Under valgrind the re-executed program would escape the tool (no --trace-children).
    if (starts_with(envp[n], "LD_PRELOAD=") && std::strstr(envp[n], "vgpreload")) return;
  }
  if (has_setting || !multicore()) return;
  auto** env = static_cast<char**>(std::malloc((n + 2) * sizeof(char*)));
  if (!env) return;
  std::memcpy(env, envp, n * sizeof(char*));
  env[n] = const_cast<char*>("GOMP_SPINCOUNT=3000");
  env[n + 1] = nullptr;
  execve("/proc/self/exe", argv, env);
  std::free(env);  // no /proc: run with the libraries' own defaults
}

}  // namespace

// Executables only (this file is part of fthost's runtime objects).
__attribute__((section(".preinit_array"), used)) void (*ft_cpu_defaults_preinit)(int, char**,
                                                                                 char**) = set_cpu_defaults;
