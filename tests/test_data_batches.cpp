// The train/validation split and random batches, as the reference's get_batch: the split sizes of
// int(train_ratio * n), targets as inputs shifted by one, every window start reachable and none outside,
// the same batches for the same seed, and clear errors for texts too short for the block size.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "babygpt/data/batches.hpp"
#include "babygpt/random.hpp"

#include "helpers.hpp"

// A named namespace, not an anonymous one: the unity build puts several test files in one translation
// unit, where anonymous namespaces merge and helper names would clash.
namespace batches_case {

namespace data = babygpt::data;
using babygpt_test::contains;
using babygpt_test::error_of;
using Tokens = std::vector<std::int64_t>;

/// n distinct tokens in a scrambled order (i * 37 mod 1009 for i < n <= 1009; 1009 is prime), so a
/// window is found from its first token and an off-by-one or a reversed copy gives different values.
Tokens scrambled_tokens(std::int64_t n) {
    REQUIRE(n <= 1009);
    Tokens t;
    for (std::int64_t i = 0; i < n; ++i) t.push_back((i * 37) % 1009);
    return t;
}

/// The position of each token value in `tokens` (the values are distinct).
std::map<std::int64_t, std::int64_t> positions_of(const Tokens& tokens) {
    std::map<std::int64_t, std::int64_t> where;
    for (std::size_t i = 0; i < tokens.size(); ++i) where.emplace(tokens[i], static_cast<std::int64_t>(i));
    REQUIRE(where.size() == tokens.size());
    return where;
}

/// The start of each row of `batch` in `tokens`, after checking that row b is x = tokens[s : s + T]
/// and y = tokens[s + 1 : s + T + 1] element by element; -1 for a row that is not such a window.
std::vector<std::int64_t> window_starts(const data::Batch& batch, const Tokens& tokens) {
    const auto where = positions_of(tokens);
    const std::int64_t B = batch.x.shape()[0];
    const std::int64_t T = batch.x.shape()[1];
    const auto n = static_cast<std::int64_t>(tokens.size());
    std::vector<std::int64_t> starts;
    for (std::int64_t b = 0; b < B; ++b) {
        const std::int64_t* x = batch.x.data() + b * T;
        const std::int64_t* y = batch.y.data() + b * T;
        const auto found = where.find(x[0]);
        std::int64_t s = found == where.end() ? -1 : found->second;
        if (s < 0 || s + T + 1 > n) {
            starts.push_back(-1);
            continue;
        }
        for (std::int64_t t = 0; t < T; ++t) {
            if (x[t] != tokens[static_cast<std::size_t>(s + t)] || y[t] != tokens[static_cast<std::size_t>(s + t + 1)]) {
                s = -1;
                break;
            }
        }
        starts.push_back(s);
    }
    return starts;
}

// ---- batches --------------------------------------------------------------------------------------

TEST_CASE("data::get_batch: (B, T) windows of the tokens, y the next token of x at every position") {
    const Tokens tokens = scrambled_tokens(200);
    babygpt::Generator gen(5);
    for (int round = 0; round < 20; ++round) {
        CAPTURE(round);
        const data::Batch batch = data::get_batch(tokens, 6, 9, gen);
        REQUIRE(batch.x.shape() == babygpt::Shape{6, 9});
        REQUIRE(batch.y.shape() == babygpt::Shape{6, 9});
        for (std::int64_t s : window_starts(batch, tokens)) CHECK(s >= 0);
        // y is x shifted left by one within each row: y[b][t] == x[b][t + 1].
        for (std::int64_t b = 0; b < 6; ++b)
            for (std::int64_t t = 0; t + 1 < 9; ++t)
                CHECK(batch.y.data()[b * 9 + t] == batch.x.data()[b * 9 + t + 1]);
    }
}

TEST_CASE("data::get_batch: every start 0 .. n - T - 1 is drawn, about equally often, and none beyond") {
    // 13 tokens and T = 4: the starts are 0..8 (a window at 9 would need a target at index 13).
    const Tokens tokens = scrambled_tokens(13);
    const std::int64_t T = 4;
    const std::int64_t last_start = 13 - T - 1;
    babygpt::Generator gen(2024);
    std::map<std::int64_t, int> seen;
    int bad_rows = 0;
    for (int draw = 0; draw < 300; ++draw) {
        const data::Batch batch = data::get_batch(tokens, 3, T, gen);
        for (std::int64_t s : window_starts(batch, tokens)) {
            if (s < 0 || s > last_start) ++bad_rows;
            else ++seen[s];
        }
    }
    CHECK(bad_rows == 0);
    REQUIRE(seen.size() == static_cast<std::size_t>(last_start + 1));
    CHECK(seen.begin()->first == 0);
    CHECK(seen.rbegin()->first == last_start);
    // 900 rows over 9 starts: 100 each expected; a standard deviation of about 9.4, so 60..140 is far
    // outside chance for this seed but catches a start that is never or twice as often drawn.
    for (const auto& start_count : seen) {  // no structured binding: CAPTURE's lambda cannot name one in C++17
        const std::int64_t start = start_count.first;
        CAPTURE(start);
        CHECK(start_count.second > 60);
        CHECK(start_count.second < 140);
    }
}

TEST_CASE("data::get_batch: with n = T + 1 tokens the only window is the whole text") {
    const Tokens tokens = {5, 3, 8, 1};
    babygpt::Generator gen(1);
    const data::Batch batch = data::get_batch(tokens, 4, 3, gen);
    for (std::int64_t b = 0; b < 4; ++b) {
        CAPTURE(b);
        CHECK(Tokens(batch.x.data() + b * 3, batch.x.data() + b * 3 + 3) == Tokens{5, 3, 8});
        CHECK(Tokens(batch.y.data() + b * 3, batch.y.data() + b * 3 + 3) == Tokens{3, 8, 1});
    }
    // A block of one token: x a single token, y the one after it.
    const data::Batch single = data::get_batch(Tokens{7, 9}, 2, 1, gen);
    CHECK(single.x.shape() == babygpt::Shape{2, 1});
    CHECK(Tokens(single.x.data(), single.x.data() + 2) == Tokens{7, 7});
    CHECK(Tokens(single.y.data(), single.y.data() + 2) == Tokens{9, 9});
}

TEST_CASE("data::get_batch: the starts are the generator's randint(n - T) draws, so a seed repeats the batches") {
    const Tokens tokens = scrambled_tokens(500);
    babygpt::Generator a(99), b(99), other(100), reference(99);
    bool any_different = false;
    for (int round = 0; round < 10; ++round) {
        CAPTURE(round);
        const data::Batch from_a = data::get_batch(tokens, 8, 16, a);
        const data::Batch from_b = data::get_batch(tokens, 8, 16, b);
        const data::Batch from_other = data::get_batch(tokens, 8, 16, other);
        CHECK(Tokens(from_a.x.data(), from_a.x.data() + 128) == Tokens(from_b.x.data(), from_b.x.data() + 128));
        CHECK(Tokens(from_a.y.data(), from_a.y.data() + 128) == Tokens(from_b.y.data(), from_b.y.data() + 128));
        if (Tokens(from_a.x.data(), from_a.x.data() + 128) != Tokens(from_other.x.data(), from_other.x.data() + 128))
            any_different = true;
        // Row r starts at the r-th draw of randint(500 - 16), as torch.randint(len(data) - block_size, ...).
        const std::vector<std::int64_t> starts = window_starts(from_a, tokens);
        for (std::int64_t s : starts) {
            const std::int64_t expected = reference.randint(500 - 16);
            CHECK(s == expected);
        }
    }
    CHECK(any_different);
    // After the same batches, the generators are in the same state.
    CHECK(a.state() == b.state());
    CHECK(a.state() == reference.state());
}

TEST_CASE("data::get_batch: too few tokens for the block size is a clear error") {
    babygpt::Generator gen(3);
    std::string m = error_of([&] { data::get_batch(Tokens{1, 2, 3, 4}, 2, 4, gen); });
    CHECK(contains(m, "get_batch: 4 tokens are too few for block size 4"));
    m = error_of([&] { data::get_batch(Tokens{}, 1, 1, gen); });
    CHECK(contains(m, "get_batch: 0 tokens are too few for block size 1"));
    CHECK(m.find('\n') == std::string::npos);
    // One more token is enough.
    CHECK(error_of([&] { data::get_batch(Tokens{1, 2, 3, 4, 5}, 2, 4, gen); }).empty());
}

// ---- the split ------------------------------------------------------------------------------------

TEST_CASE("data::split_tokens: 0.9 trains on the first int(0.9 * n) tokens, the rest validate") {
    // floor(9n / 10) in integers: the double 0.9 is a little above 9/10, so int(0.9 * n) is never below it.
    for (std::int64_t n : {20, 65, 100, 101, 999, 1000, 1001, 1009}) {
        CAPTURE(n);
        const Tokens tokens = scrambled_tokens(n);
        const data::Split split = data::split_tokens(tokens, 0.9, 1);
        const std::int64_t expected_train = 9 * n / 10;
        CHECK(static_cast<std::int64_t>(split.train.size()) == expected_train);
        CHECK(static_cast<std::int64_t>(split.val.size()) == n - expected_train);
        CHECK(split.train == Tokens(tokens.begin(), tokens.begin() + expected_train));
        CHECK(split.val == Tokens(tokens.begin() + expected_train, tokens.end()));
    }
    // Sizes written out by hand: int(0.9 * 65) = int(58.5) = 58, int(0.9 * 1001) = int(900.9) = 900.
    CHECK(data::split_tokens(scrambled_tokens(65), 0.9, 4).train.size() == 58);
    CHECK(data::split_tokens(scrambled_tokens(1001), 0.9, 4).train.size() == 900);
}

TEST_CASE("data::split_tokens: other ratios truncate as Python's int(ratio * n) does") {
    const Tokens tokens = scrambled_tokens(100);
    // In doubles 0.29 * 100 = 28.999999999999996 and 0.57 * 100 = 56.99999999999999, so Python gives 28
    // and 56, not 29 and 57; the split must match the reference's sizes, not exact arithmetic.
    CHECK(data::split_tokens(tokens, 0.29, 2).train.size() == 28);
    CHECK(data::split_tokens(tokens, 0.57, 2).train.size() == 56);
    CHECK(data::split_tokens(tokens, 0.5, 2).train.size() == 50);
    CHECK(data::split_tokens(tokens, 0.75, 2).val.size() == 25);
    const data::Split split = data::split_tokens(tokens, 0.29, 2);
    Tokens joined = split.train;
    joined.insert(joined.end(), split.val.begin(), split.val.end());
    CHECK(joined == tokens);
}

TEST_CASE("data::split_tokens: a part too short for the block size is a clear error, one longer is fine") {
    const Tokens tokens = scrambled_tokens(10);
    // 0.5 of 10: 5 and 5 tokens. Each part needs more than block_size tokens: block 4 fits, 5 does not.
    CHECK(error_of([&] { data::split_tokens(tokens, 0.5, 4); }).empty());
    std::string m = error_of([&] { data::split_tokens(tokens, 0.5, 5); });
    CHECK(contains(m, "the text is too short for block size 5: the training part has 5 characters and the "
                      "validation part 5, and each needs more than 5; use a longer text or a smaller block size"));
    CHECK(m.find('\n') == std::string::npos);
    // Only the validation part too short: 0.9 of 20 is 18 and 2.
    m = error_of([&] { data::split_tokens(scrambled_tokens(20), 0.9, 2); });
    CHECK(contains(m, "block size 2: the training part has 18 characters and the validation part 2"));
    CHECK(error_of([&] { data::split_tokens(scrambled_tokens(20), 0.9, 1); }).empty());
    // Only the training part too short: 0.1 of 20 is 2 and 18.
    m = error_of([&] { data::split_tokens(scrambled_tokens(20), 0.1, 3); });
    CHECK(contains(m, "the training part has 2 characters and the validation part 18"));
    // An empty text.
    m = error_of([&] { data::split_tokens(Tokens{}, 0.9, 8); });
    CHECK(contains(m, "the training part has 0 characters and the validation part 0"));
}

TEST_CASE("data::split_tokens: a train ratio outside (0, 1) is refused") {
    const Tokens tokens = scrambled_tokens(100);
    for (double ratio : {0.0, 1.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN(),
                         std::numeric_limits<double>::infinity()}) {
        CAPTURE(ratio);
        const std::string m = error_of([&] { data::split_tokens(tokens, ratio, 2); });
        CHECK(contains(m, "train ratio must be between 0 and 1 (exclusive), got "));
    }
}

TEST_CASE("data::split_tokens + get_batch: validation windows lie wholly in the validation part") {
    const Tokens tokens = scrambled_tokens(300);
    const data::Split split = data::split_tokens(tokens, 0.9, 8);
    REQUIRE(split.val.size() == 30);
    babygpt::Generator gen(11);
    std::map<std::int64_t, int> seen;
    for (int draw = 0; draw < 100; ++draw) {
        // Window starts are found in the whole text: a validation window starts at 270..291 (30 - 8 - 1 = 21).
        for (std::int64_t s : window_starts(data::get_batch(split.val, 4, 8, gen), tokens)) ++seen[s];
    }
    REQUIRE(seen.size() == 22);
    CHECK(seen.begin()->first == 270);
    CHECK(seen.rbegin()->first == 291);
}

}  // namespace batches_case
