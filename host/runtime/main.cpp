// fthost's entry point: `fthost recipe.lua [args]`, `fthost -e code`, `fthost -i recipe.lua`,
// `fthost <command> ...` (dispatched to the Lua module ft.cli.<command>), and the REPL when nothing
// else is asked for.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "memory/cpu_cache.h"
#include "model/cpu_matmul.h"
#include "runtime/repl.h"
#include "runtime/vm.h"

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

const char kUsage[] =
    "usage: fthost [options] [recipe.lua [args...]]\n"
    "       fthost <command> [args...]\n"
    "\n"
    "Runs a Lua recipe with fthost's fine-tuning API (require \"ft\"); with no recipe, opens the REPL.\n"
    "Arguments after the recipe are in `arg`; --key=value ones are also parsed into `ft.args`\n"
    "(numbers, booleans and strings), e.g. fthost recipe.lua --lr=3e-4 --epochs=2 --name=run1\n"
    "\n"
    "options:\n"
    "  -e CODE         run CODE (may be repeated; runs before the recipe)\n"
    "  -i              enter the REPL after running the recipe / -e code\n"
    "  -v, --version   print versions of fthost, LuaJIT, LibTorch, BLAS, and CUDA/NCCL availability\n"
    "  -h, --help      print this help and the list of commands\n"
    "  --              stop handling options\n"
    "\n"
    "environment:\n"
    "  FTHOST_PATH     a folder holding ft/*.lua that replaces the embedded stdlib (development)\n"
    "  HOME            the REPL keeps its history in $HOME/.fthost_history\n"
    "  GOMP_SPINCOUNT  fthost's default is 3000: idle OpenMP threads spin briefly, then sleep (set it\n"
    "                  or OMP_WAIT_POLICY to override)\n"
    "  FTHOST_CPU_CACHE\n"
    "                  bytes of freed CPU tensor memory kept for reuse (K/M/G suffix); default a\n"
    "                  quarter of RAM, 0 turns the cache off\n"
    "  FTHOST_CPU_MATMUL\n"
    "                  what runs fp32 CPU linear layers: onednn (default) or blas (LibTorch's)\n";

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// "download" and "convert-gguf" are commands; "x.lua", "./x" and existing files are recipes.
bool looks_like_command(const std::string& s) {
  if (s.empty() || is_file(s)) return false;
  if (s.size() > 4 && s.compare(s.size() - 4, 4, ".lua") == 0) return false;
  if (!(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "fthost: %s\nhint: see fthost --help\n", msg.c_str());
  return kExitUsage;
}

int run_main(int argc, char** argv) {
  std::vector<std::string> exprs;
  bool interactive = false;
  int i = 1;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      ft::runtime::Vm vm;
      vm.set_args(argv[0], "", {});
      return vm.run_command("help", {"--commands-only"});
    }
    if (a == "-v" || a == "--version") {
      try {
        std::fputs(ft::runtime::version_report().c_str(), stdout);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "fthost: %s\n", e.what());
        return kExitError;
      }
      return 0;
    }
    if (a == "-e") {
      if (i + 1 >= argc) return usage_error("option -e needs an argument (the Lua code to run)");
      exprs.emplace_back(argv[++i]);
      continue;
    }
    if (a == "-i") {
      interactive = true;
      continue;
    }
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() > 1 && a[0] == '-') return usage_error("unknown option '" + a + "'");
    break;
  }
  std::string script = i < argc ? argv[i] : "";
  std::vector<std::string> rest;
  for (int j = i + 1; j < argc; ++j) rest.emplace_back(argv[j]);

  try {
    // The two CPU performance switches, read (and checked) before any work.
    ft::memory::install_cpu_cache(ft::memory::default_cpu_cache_limit());
    (void)ft::model::onednn_linear_enabled();
    ft::runtime::Vm vm;
    ft::runtime::install_interrupt_handler(vm.state());
    if (!script.empty() && looks_like_command(script)) {
      vm.set_args(argv[0], script, rest);
      return vm.run_command(script, rest);
    }
    vm.set_args(argv[0], script, rest);
    // The global `ft`, as in the REPL, so one-liners and recipes can use it without require.
    if (!vm.run_string("ft = require 'ft'", "=(fthost)")) return kExitError;
    for (const auto& code : exprs) {
      if (!vm.run_string(code, "=(command line)"))
        return vm.last_error_was_interrupt() ? kExitInterrupted : kExitError;
    }
    if (!script.empty()) {
      if (!is_file(script)) {
        std::fprintf(stderr, "fthost: cannot open recipe '%s': no such file\n", script.c_str());
        return kExitError;
      }
      if (!vm.run_file(script)) return vm.last_error_was_interrupt() ? kExitInterrupted : kExitError;
    }
    if (interactive || (script.empty() && exprs.empty())) return ft::runtime::run_repl(vm);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fthost: %s\n", e.what());
    return kExitError;
  }
}

}  // namespace

// The VM (and everything Lua owned) is closed inside run_main. Leaving through _Exit skips the static
// destructors of LibTorch and its thread pools, 0.2-0.3 s of CPU on every command and nothing to flush.
int main(int argc, char** argv) {
  const int rc = run_main(argc, argv);
  std::fflush(nullptr);
  std::_Exit(rc);
}
