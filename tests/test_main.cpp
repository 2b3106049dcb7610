// The doctest runner: every tests/test_*.cpp file is linked into this one binary.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
