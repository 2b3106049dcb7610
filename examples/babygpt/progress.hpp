#pragma once
// A status line redrawn in place on a terminal ("step 120/5000 | ...", "evaluating step 200: train
// 37/200 batches"), so that a long step never leaves a silent screen. Piped or redirected output gets
// none: only whole lines.

#include <chrono>
#include <string>

namespace babygpt_cli {

/// Whether stdout is a terminal (only then is a status line drawn).
bool stdout_is_terminal();

/// "0:42", "12:05" or "3:02:09".
std::string format_duration(double seconds);

class StatusLine {
public:
    explicit StatusLine(bool enabled);
    ~StatusLine();  // clears the line, so that a message printed after it starts on a clean line
    StatusLine(const StatusLine&) = delete;
    StatusLine& operator=(const StatusLine&) = delete;

    /// Draws `text` in place of the previous status; at most 5 times a second unless `now` is set.
    void show(const std::string& text, bool now = false);
    /// Removes the status (before a whole line is printed).
    void clear();
    bool enabled() const { return enabled_; }

private:
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace babygpt_cli
