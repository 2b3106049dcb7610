// set_num_threads: the one knob for Eigen's and the OpenMP loops' threads, with a bound that keeps an
// absurd count from reaching the OpenMP runtime (which crashes when asked for 100000 threads).

#include <doctest/doctest.h>

#include <string>

#include "babygpt/threads.hpp"

TEST_CASE("set_num_threads: accepts 1 to max_threads, refuses the rest with the range in the message") {
    babygpt::set_num_threads(1);
    CHECK(babygpt::num_threads() == 1);
    babygpt::set_num_threads(2);
    CHECK(babygpt::num_threads() == 2);
    for (int bad : {0, -1, babygpt::max_threads + 1, 100000}) {
        CAPTURE(bad);
        try {
            babygpt::set_num_threads(bad);
            FAIL("no error for ", bad);
        } catch (const babygpt::Error& e) {
            CHECK(std::string(e.what()).find("between 1 and 256, got " + std::to_string(bad)) != std::string::npos);
        }
    }
    CHECK(babygpt::num_threads() == 2);  // a refused count changes nothing
    babygpt::set_num_threads(1);
}
