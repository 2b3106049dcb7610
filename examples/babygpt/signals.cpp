#include "signals.hpp"

#include <signal.h>

#include <csignal>

namespace babygpt_cli {

namespace {

constexpr int handled_signals[] = {SIGINT, SIGTERM, SIGHUP};
constexpr int handled_count = sizeof(handled_signals) / sizeof(handled_signals[0]);

volatile std::sig_atomic_t received = 0;
struct sigaction previous[handled_count];

// Async-signal-safe: it only stores the number (the first one wins, so the exit status names the
// signal that started the shutdown).
extern "C" void record_signal(int number) {
    if (received == 0) received = number;
}

}  // namespace

InterruptGuard::InterruptGuard() {
    received = 0;
    struct sigaction action {};
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // reads and writes in progress continue instead of failing with EINTR
    for (int i = 0; i < handled_count; ++i) sigaction(handled_signals[i], &action, &previous[i]);
}

InterruptGuard::~InterruptGuard() {
    for (int i = 0; i < handled_count; ++i) sigaction(handled_signals[i], &previous[i], nullptr);
}

int interrupt_signal() { return received; }

void adopt_interrupt(int number) {
    if (received == 0) received = number;
}

void throw_if_interrupted() {
    if (received != 0) throw Interrupted{};
}

int interrupted_exit_code() { return 128 + received; }

const char* interrupt_signal_name() {
    switch (received) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        case SIGHUP: return "SIGHUP";
        default: return "a signal";
    }
}

}  // namespace babygpt_cli
