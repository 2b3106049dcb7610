#pragma once
// The trainer's errors: every bad input throws babygpt::Error, as the library's own checks do, so that
// main() prints either kind the same way ("error: <message>") and exits with status 1.

#include <sstream>

#include <babygpt/error.hpp>

namespace babygpt_cli {

/// Throws babygpt::Error whose message is the parts written one after another (as to a std::ostream):
///   fail(path, ": cannot read it (", std::strerror(errno), ")");
/// For a condition to check, BABYGPT_CHECK(condition, parts...) says the same in one line.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
    std::ostringstream message;
    (message << ... << parts);
    throw babygpt::Error(message.str());
}

}  // namespace babygpt_cli
