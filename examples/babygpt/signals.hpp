#pragma once
// Interruption: Ctrl-C (SIGINT), SIGTERM (kill, a shutdown) and SIGHUP (the terminal closed) only set a
// flag while an InterruptGuard lives, so that the trainer finishes the file it is writing, saves a
// checkpoint and exits with 128 + the signal's number, and generation stops after the current character.

namespace babygpt_cli {

/// Thrown where work stops early because of a signal (the generation callback, an evaluation); not a
/// std::exception, so that no error handler mistakes it for a failure.
struct Interrupted {};

/// While it lives, SIGINT, SIGTERM and SIGHUP are recorded instead of ending the process (the record is
/// cleared on construction); the previous handlers come back when it goes, however the scope is left.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;
};

/// The first signal received while a guard lived (0: none).
int interrupt_signal();

/// Records a signal that another rank of a data-parallel run received, so that this process stops and
/// exits as if it had received it (nothing changes if it received one itself).
void adopt_interrupt(int number);

/// Throws Interrupted if a signal was received.
void throw_if_interrupted();

/// The exit status for the received signal, as a shell reports a process it killed: 128 + the number
/// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
int interrupted_exit_code();

/// "SIGINT", "SIGTERM" or "SIGHUP".
const char* interrupt_signal_name();

}  // namespace babygpt_cli
