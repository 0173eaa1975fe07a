// The interactive prompt: libedit line editing, persistent history in ~/.fthost_history, multi-line
// continuation for incomplete chunks, printing of expression values, Ctrl-C to stop a computation.
#pragma once

namespace ft::runtime {
class Vm;
// Runs until end of input (Ctrl-D); returns the process exit code.
int run_repl(Vm& vm);
}  // namespace ft::runtime
