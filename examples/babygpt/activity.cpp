#include "activity.hpp"

#include <exception>

namespace babygpt_cli {

namespace {
const char* activity_what = "starting";
const char* activity_hint = "free some memory or use a smaller model";
}  // namespace

Activity::Activity(const char* what, const char* hint)
    : previous_what_(activity_what), previous_hint_(activity_hint), exceptions_(std::uncaught_exceptions()) {
    activity_what = what;
    activity_hint = hint;
}

Activity::~Activity() {
    if (std::uncaught_exceptions() > exceptions_) return;  // unwinding: keep naming what failed
    activity_what = previous_what_;
    activity_hint = previous_hint_;
}

const char* current_activity() { return activity_what; }
const char* current_activity_hint() { return activity_hint; }

}  // namespace babygpt_cli
