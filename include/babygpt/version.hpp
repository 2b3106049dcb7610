#pragma once
// The library version. CMakeLists.txt reads the three numbers below, so this file is the one place to bump it.

#define BABYGPT_VERSION_MAJOR 0
#define BABYGPT_VERSION_MINOR 1
#define BABYGPT_VERSION_PATCH 0

#define BABYGPT_STRINGIFY_DETAIL(x) #x
#define BABYGPT_STRINGIFY(x) BABYGPT_STRINGIFY_DETAIL(x)
#define BABYGPT_VERSION_STRING                                                 \
    BABYGPT_STRINGIFY(BABYGPT_VERSION_MAJOR)                                   \
    "." BABYGPT_STRINGIFY(BABYGPT_VERSION_MINOR) "." BABYGPT_STRINGIFY(BABYGPT_VERSION_PATCH)

namespace babygpt {
inline constexpr const char* version = BABYGPT_VERSION_STRING;
}  // namespace babygpt
