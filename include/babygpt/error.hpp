#pragma once
// Errors: every failed check throws babygpt::Error with a message that names the operation, the values
// involved (shapes, sizes, offsets) and, where one exists, a hint about the fix.

#include <sstream>
#include <stdexcept>
#include <string>

namespace babygpt {

/// The one exception type the library throws for invalid arguments, shape mismatches and bad files.
class Error : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

namespace detail {

template <typename... Parts>
[[noreturn]] void throw_error(const Parts&... parts) {
    std::ostringstream message;
    (message << ... << parts);
    throw Error(message.str());
}

}  // namespace detail
}  // namespace babygpt

/// BABYGPT_CHECK(condition, message parts...): throws babygpt::Error with the parts concatenated.
/// The parts are only formatted when the check fails, so checks are cheap on the hot path.
#define BABYGPT_CHECK(condition, ...)                                          \
    do {                                                                       \
        if (!(condition)) ::babygpt::detail::throw_error(__VA_ARGS__);         \
    } while (0)
