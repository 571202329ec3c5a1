#pragma once
// Ctrl-C for the sample trainers: the first SIGINT asks the loop to stop after the current step
// (it then writes a checkpoint and exits 130); a second one exits at once. Also removes the
// temporary files an earlier run left when it was killed in the middle of a save.

#include <string>
#include <vector>

namespace samples {

/// Installs the SIGINT handler (idempotent). Not used under --distributed, where mpirun owns
/// signals and every rank must stop at the same step.
void install_interrupt_handler();
/// True once SIGINT arrived (or request_interrupt() was called).
bool interrupt_requested();
/// What the handler does on the first SIGINT, for tests and for a stop decided in code.
void request_interrupt();

/// Removes `dir/*.tmp-PID-N` files (lazynn's atomic writes) whose process PID is no longer
/// running, and `dir/*.tmp` files from the samples' own writes. Returns the removed names.
std::vector<std::string> remove_stale_temporaries(const std::string& dir);

}  // namespace samples
