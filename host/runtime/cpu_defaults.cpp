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
//
// OPENBLAS_CORETYPE on AMD CPUs with AVX-512 (Zen 4 and later): OpenBLAS before 0.3.22 (Debian 12 ships
// 0.3.21) does not know these CPUs and picks its Haswell (AVX2) kernels; LibTorch's CPU matmuls then
// run at ~60% of the AVX-512 kernels' speed (2 threads, 1024x512x4096 sgemm: 209 vs 342-376 GFLOP/s;
// the 21.9M-parameter training step of tests/bench/train_step.sh: 0.75 s vs 0.47 s). OpenBLAS reads the
// variable in its load-time constructor too, so it rides on the same re-execution: COOPERLAKE when the
// CPU has AVX512-BF16 (OpenBLAS's newer releases choose the same for Zen 4), else SKYLAKEX. Intel CPUs
// are detected correctly and left alone, as is a value the user set. `fthost -v` names the kernels.
// Runs before libc++/libstdc++ initialisation: plain C library calls only.
#if defined(__x86_64__)
#include <cpuid.h>
#endif
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

// The OpenBLAS core type for an AMD CPU with usable AVX-512 (the OS saves the zmm state), else null.
const char* amd_avx512_coretype() {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d) || a < 7) return nullptr;
  // "AuthenticAMD" in ebx, edx, ecx
  if (b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163) return nullptr;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return nullptr;  // OSXSAVE
  unsigned xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  if ((xlo & 0xE6) != 0xE6) return nullptr;  // SSE, AVX, opmask, zmm state enabled by the OS
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned need = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);  // F DQ CD BW VL
  if ((b & need) != need) return nullptr;
  const unsigned max_sub = a;
  if (max_sub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    if (a & (1u << 5)) return "OPENBLAS_CORETYPE=COOPERLAKE";  // AVX512-BF16
  }
  return "OPENBLAS_CORETYPE=SKYLAKEX";
#else
  return nullptr;
#endif
}

// Commands that run no tensor work: the re-execution (~0.25 s of a start-up) buys them nothing.
bool runs_no_tensor_work(int argc, char** argv) {
  return argc > 1 && (std::strcmp(argv[1], "download") == 0 || std::strcmp(argv[1], "help") == 0);
}

void set_cpu_defaults(int argc, char** argv, char** envp) {
  if (!argv || !envp || runs_no_tensor_work(argc, argv)) return;
  bool has_omp_setting = false, has_coretype = false;
  size_t n = 0;
  for (; envp[n]; ++n) {
    has_omp_setting = has_omp_setting || starts_with(envp[n], "OMP_WAIT_POLICY=") ||
                      starts_with(envp[n], "GOMP_SPINCOUNT=");
    has_coretype = has_coretype || starts_with(envp[n], "OPENBLAS_CORETYPE=");
    // Under valgrind the re-executed program would escape the tool (no --trace-children).
    if (starts_with(envp[n], "LD_PRELOAD=") && std::strstr(envp[n], "vgpreload")) return;
  }
  const char* spin = !has_omp_setting && multicore() ? "GOMP_SPINCOUNT=3000" : nullptr;
  const char* coretype = has_coretype ? nullptr : amd_avx512_coretype();
  if (!spin && !coretype) return;
  auto** env = static_cast<char**>(std::malloc((n + 3) * sizeof(char*)));
  if (!env) return;
  std::memcpy(env, envp, n * sizeof(char*));
  if (spin) env[n++] = const_cast<char*>(spin);
  if (coretype) env[n++] = const_cast<char*>(coretype);
  env[n] = nullptr;
  execve("/proc/self/exe", argv, env);
  std::free(env);  // no /proc: run with the libraries' own defaults
}

}  // namespace

// Executables only (this file is part of fthost's runtime objects).
__attribute__((section(".preinit_array"), used)) void (*ft_cpu_defaults_preinit)(int, char**,
                                                                                 char**) = set_cpu_defaults;
