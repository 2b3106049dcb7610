#pragma once
// What the program is doing, for the one failure that has no other context: running out of memory.
// main() catches std::bad_alloc and prints "error: out of memory (while <activity>); <hint>".

namespace babygpt_cli {

/// While it lives, the current activity is `what` (e.g. "building the model") with its remedy `hint`
/// (e.g. "try a smaller --n-embed or --n-layer"); the previous one comes back when it goes, unless it
/// goes because an exception is leaving its scope: then it stays, for main()'s message. Both must be
/// string literals (they are kept as pointers).
class Activity {
public:
    Activity(const char* what, const char* hint);
    ~Activity();
    Activity(const Activity&) = delete;
    Activity& operator=(const Activity&) = delete;

private:
    const char* previous_what_;
    const char* previous_hint_;
    int exceptions_;  // std::uncaught_exceptions() on construction
};

const char* current_activity();
const char* current_activity_hint();

}  // namespace babygpt_cli
