// The character vocabulary: sorted distinct code points, ids as positions in that order, the round trips
// of encode and decode, the errors for unknown characters and ids, and the smallest vocabularies.
// (tests/test_data_text.cpp covers the stored form's round trip through safetensors and random sets.)

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "babygpt/data/vocabulary.hpp"

#include "helpers.hpp"

// A named namespace, not an anonymous one: the unity build puts several test files in one translation
// unit, where anonymous namespaces merge and helper names would clash.
namespace vocabulary_case {

namespace data = babygpt::data;
using babygpt_test::contains;
using babygpt_test::error_of;
using CodePoints = std::vector<char32_t>;
using Ids = std::vector<std::int64_t>;

/// "né€😀" with its bytes and code points written out by hand.
const std::string mixed_text = "n\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
const CodePoints mixed_points = {U'n', 0xE9, 0x20AC, 0x1F600};

TEST_CASE("data::Vocabulary::from_text: the sorted distinct characters, ids their positions") {
    // "hello, wörld" with the 'ö' and a character above U+FFFF, out of order and repeated.
    const CodePoints text = {U'h', U'e', U'l', U'l', U'o', U',', U' ', U'w', 0xF6, U'r', U'l', U'd', 0x1F600, U'e', 0xF6};
    const data::Vocabulary v = data::Vocabulary::from_text(text);
    // Written out by hand: ' ' < ',' < 'd' < 'e' < 'h' < 'l' < 'o' < 'r' < 'w' < U+00F6 < U+1F600.
    const CodePoints expected = {U' ', U',', U'd', U'e', U'h', U'l', U'o', U'r', U'w', 0xF6, 0x1F600};
    CHECK(v.chars() == expected);
    CHECK(v.size() == 11);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(v.at(static_cast<std::int64_t>(i)) == expected[i]);
        CHECK(v.contains(expected[i]));
        CHECK(v.encode(CodePoints{expected[i]}) == Ids{static_cast<std::int64_t>(i)});
    }
    CHECK_FALSE(v.contains(U'a'));
    CHECK_FALSE(v.contains(0xFEFF));
    // "hello" -> h=4 e=3 l=5 l=5 o=6.
    CHECK(v.encode(CodePoints{U'h', U'e', U'l', U'l', U'o'}) == Ids{4, 3, 5, 5, 6});
    CHECK(v.encode(std::string("w\xC3\xB6rld")) == Ids{8, 9, 7, 5, 2});
    CHECK(v.decode(Ids{10, 1, 0, 9}) == "\xF0\x9F\x98\x80, \xC3\xB6");
}

TEST_CASE("data::Vocabulary::from_text: sorted by code point, not by byte or by locale") {
    // Upper case before lower case, digits before both, and U+FFFF (3 bytes) before U+10000 (4 bytes),
    // U+00FF before U+0100; the order of the code points, which is also the order of their UTF-8 bytes.
    const CodePoints text = {0x10000, U'b', 0xFFFF, U'B', U'0', 0x100, 0xFF, U'a', U'A', U'9'};
    const data::Vocabulary v = data::Vocabulary::from_text(text);
    CHECK(v.chars() == CodePoints{U'0', U'9', U'A', U'B', U'a', U'b', 0xFF, 0x100, 0xFFFF, 0x10000});
    // The stored form is the characters' UTF-8 in that order.
    CHECK(v.to_utf8() == "09ABab\xC3\xBF\xC4\x80\xEF\xBF\xBF\xF0\x90\x80\x80");
}

TEST_CASE("data::Vocabulary: a long text's vocabulary agrees with a std::set, and every text round-trips") {
    // A text of 5000 characters drawn from 300 code points spread over all lengths of UTF-8.
    babygpt::Generator gen(77);
    CodePoints pool;
    for (char32_t c = 0x20; c < 0x7F; ++c) pool.push_back(c);  // 95
    for (char32_t c = 0x3B1; c < 0x3B1 + 25; ++c) pool.push_back(c);  // Greek
    for (char32_t c = 0x4E00; c < 0x4E00 + 100; ++c) pool.push_back(c);  // CJK
    for (char32_t c = 0x1F600; c < 0x1F600 + 80; ++c) pool.push_back(c);  // emoji
    REQUIRE(pool.size() == 300);
    CodePoints text;
    for (int i = 0; i < 5000; ++i) text.push_back(pool[static_cast<std::size_t>(gen.randint(300))]);

    const std::set<char32_t> distinct(text.begin(), text.end());
    const data::Vocabulary v = data::Vocabulary::from_text(text);
    CHECK(v.chars() == CodePoints(distinct.begin(), distinct.end()));
    CHECK(v.size() == static_cast<std::int64_t>(distinct.size()));

    // The id of each character is the number of distinct characters smaller than it.
    std::map<char32_t, std::int64_t> rank;
    for (char32_t c : distinct) rank.emplace(c, static_cast<std::int64_t>(rank.size()));
    const Ids ids = v.encode(text);
    REQUIRE(ids.size() == text.size());
    bool all_match = true;
    for (std::size_t i = 0; i < text.size(); ++i) all_match = all_match && ids[i] == rank.at(text[i]);
    CHECK(all_match);

    // ids -> text -> ids, and code points -> UTF-8 -> ids.
    const std::string utf8 = v.decode(ids);
    CHECK(data::decode_utf8(utf8) == text);
    CHECK(v.encode(utf8) == ids);
    CHECK(v.encode(data::encode_utf8(text)) == ids);
}

TEST_CASE("data::Vocabulary: multi-byte characters encode to one id each") {
    const data::Vocabulary v = data::Vocabulary::from_text(mixed_points);
    CHECK(v.chars() == mixed_points);  // already in order
    CHECK(v.encode(mixed_text) == Ids{0, 1, 2, 3});
    CHECK(v.decode(Ids{3, 2, 1, 0}) == "\xF0\x9F\x98\x80\xE2\x82\xAC\xC3\xA9n");
    CHECK(v.decode(Ids{}).empty());
    CHECK(v.encode(std::string()).empty());
    CHECK(v.encode(CodePoints{}).empty());
}

TEST_CASE("data::Vocabulary: a one-character text and an empty one") {
    const data::Vocabulary one = data::Vocabulary::from_text(CodePoints(7, 0x4E2D));
    CHECK(one.size() == 1);
    CHECK(one.chars() == CodePoints{0x4E2D});
    CHECK(one.encode(std::string("\xE4\xB8\xAD\xE4\xB8\xAD")) == Ids{0, 0});
    CHECK(one.decode(Ids{0, 0, 0}) == "\xE4\xB8\xAD\xE4\xB8\xAD\xE4\xB8\xAD");
    CHECK(one.to_utf8() == "\xE4\xB8\xAD");
    CHECK(contains(error_of([&] { one.at(1); }), "Vocabulary: token id 1 is out of range for 1 characters"));

    const data::Vocabulary none = data::Vocabulary::from_text({});
    CHECK(none.size() == 0);
    CHECK(none.chars().empty());
    CHECK(none.to_utf8().empty());
    CHECK(none.encode(CodePoints{}).empty());
    CHECK(contains(error_of([&] { none.encode(std::string("a")); }), "1 character not in the model's vocabulary: 'a'"));
    CHECK(contains(error_of([&] { none.at(0); }), "token id 0 is out of range for 0 characters"));
    CHECK(data::Vocabulary().size() == 0);
    CHECK(data::Vocabulary::from_utf8("", "ck").size() == 0);
}

TEST_CASE("data::Vocabulary: characters that are not sorted and distinct are refused") {
    const std::string sorted_distinct = "Vocabulary: the characters must be sorted and distinct";
    CHECK(contains(error_of([] { data::Vocabulary(CodePoints{U'b', U'a'}); }), sorted_distinct));
    CHECK(contains(error_of([] { data::Vocabulary(CodePoints{U'a', U'a'}); }), sorted_distinct));
    CHECK(contains(error_of([] { data::Vocabulary(CodePoints{U'a', U'c', U'b'}); }), sorted_distinct));
    CHECK(contains(error_of([] { data::Vocabulary(CodePoints{U'a', 0x1F600, 0x1F600}); }), sorted_distinct));
    CHECK(contains(error_of([] { data::Vocabulary(CodePoints{0x10000, 0xFFFF}); }), sorted_distinct));
    // Sorted and distinct is accepted, one character or none too.
    CHECK(error_of([] { data::Vocabulary(CodePoints{0, U'a', 0x10FFFF}); }).empty());
    CHECK(error_of([] { data::Vocabulary(CodePoints{U'z'}); }).empty());
    CHECK(error_of([] { data::Vocabulary(CodePoints{}); }).empty());

    // The stored form: a repeat or a step down names the two positions and the characters.
    std::string m = error_of([] { data::Vocabulary::from_utf8("abcc", "model.st"); });
    CHECK(contains(m, "model.st: the stored vocabulary is corrupt: characters 2 and 3 ('c', 'c')"));
    m = error_of([] { data::Vocabulary::from_utf8("a\n", "model.st"); });
    CHECK(contains(m, "characters 0 and 1 ('a', U+000A) are not in increasing order"));
    CHECK(m.find('\n') == std::string::npos);
    m = error_of([] { data::Vocabulary::from_utf8("a\xF0\x9F\x98\x80\xC3\xA9", "model.st"); });
    CHECK(contains(m, "characters 1 and 2 ('\xF0\x9F\x98\x80', '\xC3\xA9')"));
}

TEST_CASE("data::Vocabulary::encode: unknown characters are listed once each, in order of appearance") {
    const data::Vocabulary ab(CodePoints{U'a', U'b'});
    // 'x' three times and 'y' once: two unknown characters, 'x' first.
    std::string m = error_of([&] { ab.encode(std::string("xaxybx")); });
    CHECK(contains(m, "the text has 2 characters not in the model's vocabulary: 'x', 'y'; "));
    CHECK(contains(m, "use only characters that occur in the training text"));
    // One unknown character: singular.
    m = error_of([&] { ab.encode(CodePoints{U'a', 0x20AC, U'b', 0x20AC}); });
    CHECK(contains(m, "the text has 1 character not in the model's vocabulary: '\xE2\x82\xAC';"));
    // Eight are all listed; a ninth is left as "...", but counted.
    const CodePoints eight = {U'1', U'2', U'3', U'4', U'5', U'6', U'7', U'8'};
    m = error_of([&] { ab.encode(eight); });
    CHECK(contains(m, "8 characters not in the model's vocabulary: '1', '2', '3', '4', '5', '6', '7', '8';"));
    CodePoints nine = eight;
    nine.push_back(U'9');
    m = error_of([&] { ab.encode(nine); });
    CHECK(contains(m, "9 characters not in the model's vocabulary: '1', '2', '3', '4', '5', '6', '7', '8', ...;"));
    CHECK_FALSE(contains(m, "'9'"));
    // Invalid UTF-8 given to encode is a decoding error, not an unknown character.
    m = error_of([&] { ab.encode(std::string("ab\xC0")); });
    CHECK(contains(m, "invalid UTF-8 at byte offset 2"));
}

TEST_CASE("data::Vocabulary::describe: printable characters quoted, invisible ones as U+XXXX") {
    CHECK(data::Vocabulary::describe(U'x') == "'x'");
    CHECK(data::Vocabulary::describe(U' ') == "' '");
    CHECK(data::Vocabulary::describe(U'~') == "'~'");
    CHECK(data::Vocabulary::describe(0xE9) == "'\xC3\xA9'");
    CHECK(data::Vocabulary::describe(0xA0) == "'\xC2\xA0'");  // the first code point past C1 controls
    CHECK(data::Vocabulary::describe(0x10FFFF) == "'\xF4\x8F\xBF\xBF'");
    CHECK(data::Vocabulary::describe(0) == "U+0000");
    CHECK(data::Vocabulary::describe(U'\t') == "U+0009");
    CHECK(data::Vocabulary::describe(U'\n') == "U+000A");
    CHECK(data::Vocabulary::describe(0x1F) == "U+001F");
    CHECK(data::Vocabulary::describe(0x7F) == "U+007F");
    CHECK(data::Vocabulary::describe(0x9F) == "U+009F");
    CHECK(data::Vocabulary::describe(0xFEFF) == "U+FEFF");
    CHECK(data::Vocabulary::describe(0x2028) == "U+2028");
    CHECK(data::Vocabulary::describe(0x2029) == "U+2029");
}

TEST_CASE("data::Vocabulary: ids outside the vocabulary are refused by at and decode") {
    const data::Vocabulary v = data::Vocabulary::from_text(mixed_points);
    CHECK(contains(error_of([&] { v.at(-1); }), "Vocabulary: token id -1 is out of range for 4 characters"));
    CHECK(contains(error_of([&] { v.at(4); }), "token id 4 is out of range for 4 characters"));
    CHECK(contains(error_of([&] { v.decode(Ids{0, 1, 4}); }), "token id 4 is out of range"));
    CHECK(contains(error_of([&] { v.decode(Ids{INT64_MIN}); }), "is out of range"));
    CHECK(v.at(3) == 0x1F600);
}

TEST_CASE("data::Vocabulary: to_utf8 and from_utf8 invert each other, from_text agrees with from_utf8") {
    const data::Vocabulary v = data::Vocabulary::from_text(data::decode_utf8("the quick brown fox \xE2\x80\x94 ok"));
    const std::string stored = v.to_utf8();
    // The stored text is the characters' bytes in order: the space first, the dash (U+2014) last.
    CHECK(stored == " bcefhiknoqrtuwx\xE2\x80\x94");
    const data::Vocabulary back = data::Vocabulary::from_utf8(stored, "ck");
    CHECK(back.chars() == v.chars());
    CHECK(back.encode(std::string("fox")) == v.encode(std::string("fox")));
    CHECK(back.encode(std::string("fox")) == Ids{4, 9, 15});
}

}  // namespace vocabulary_case
