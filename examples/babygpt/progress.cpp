#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace babygpt_cli {

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::string format_duration(double seconds) {
    const long long total = seconds > 0 && seconds < 1e9 ? static_cast<long long>(seconds + 0.5) : 0;
    char text[32];
    if (total >= 3600)
        std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
    else
        std::snprintf(text, sizeof(text), "%lld:%02lld", total / 60, total % 60);
    return text;
}

StatusLine::StatusLine(bool enabled) : enabled_(enabled) {}

StatusLine::~StatusLine() { clear(); }

void StatusLine::show(const std::string& text, bool now) {
    if (!enabled_) return;
    const auto time = std::chrono::steady_clock::now();
    if (!now && drawn_ && time - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = time;
    std::printf("\r\033[K%s", text.c_str());
    std::fflush(stdout);
    drawn_ = true;
}

void StatusLine::clear() {
    if (!drawn_) return;
    std::printf("\r\033[K");
    std::fflush(stdout);
    drawn_ = false;
}

}  // namespace babygpt_cli
