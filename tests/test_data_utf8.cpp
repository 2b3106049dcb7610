// UTF-8 decoding and encoding against bytes written out by hand: the ends of every length, the
// well-formed byte table of RFC 3629 checked for every lead and second byte, every code point through a
// reference encoder, the byte offsets of errors past multi-byte characters, and the byte order mark.
// (tests/test_data_text.cpp has the first examples of each; these extend them to whole ranges.)

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "babygpt/data/utf8.hpp"

#include "helpers.hpp"

// A named namespace, not an anonymous one: the unity build puts several test files in one translation
// unit, where anonymous namespaces merge and helper names would clash.
namespace utf8_case {

namespace data = babygpt::data;
using babygpt_test::contains;
using babygpt_test::error_of;
using CodePoints = std::vector<char32_t>;

/// Bytes from a list of byte values (string literals cannot hold the escapes of a table).
std::string bytes_of(std::initializer_list<unsigned> values) {
    std::string s;
    for (unsigned v : values) s += static_cast<char>(v);
    return s;
}

/// The UTF-8 form of one code point, built by the RFC 3629 table (fill the low six bits of each trailing
/// byte from the end, then the lead byte's marker), independently of data::append_utf8.
std::string reference_bytes(char32_t cp) {
    const int length = cp <= 0x7F ? 1 : cp <= 0x7FF ? 2 : cp <= 0xFFFF ? 3 : 4;
    static const unsigned lead_marker[] = {0x00, 0x00, 0xC0, 0xE0, 0xF0};
    std::string out(static_cast<std::size_t>(length), '\0');
    std::uint32_t rest = cp;
    for (int k = length - 1; k > 0; --k) {
        out[static_cast<std::size_t>(k)] = static_cast<char>(0x80 + rest % 64);
        rest /= 64;
    }
    out[0] = static_cast<char>(lead_marker[length] + rest);
    return out;
}

/// The message of decode_utf8's error for `bytes`, with the source named "in.txt" ("" if none is thrown).
std::string error_for(const std::string& bytes) { return error_of([&] { data::decode_utf8(bytes, "in.txt"); }); }

/// Whether decode_utf8 accepts `bytes`.
bool accepted(const std::string& bytes) { return error_for(bytes).empty(); }

/// Whether the two-byte start (lead, second) is well formed, from RFC 3629's table of byte sequences:
///   00..7F | C2..DF 80..BF | E0 A0..BF | E1..EC 80..BF | ED 80..9F | EE..EF 80..BF
///   F0 90..BF | F1..F3 80..BF | F4 80..8F   (the remaining bytes, if any, are 80..BF)
bool table_allows(unsigned lead, unsigned second) {
    auto in = [](unsigned v, unsigned lo, unsigned hi) { return v >= lo && v <= hi; };
    if (in(lead, 0xC2, 0xDF) || in(lead, 0xE1, 0xEC) || in(lead, 0xEE, 0xEF) || in(lead, 0xF1, 0xF3))
        return in(second, 0x80, 0xBF);
    if (lead == 0xE0) return in(second, 0xA0, 0xBF);
    if (lead == 0xED) return in(second, 0x80, 0x9F);
    if (lead == 0xF0) return in(second, 0x90, 0xBF);
    if (lead == 0xF4) return in(second, 0x80, 0x8F);
    return false;  // C0, C1, F5..FF and the continuation bytes 80..BF cannot start a character
}

/// A file in the temporary directory holding `bytes`, removed at the end.
struct ScratchFile {
    std::string path;
    explicit ScratchFile(const std::string& bytes, const std::string& name) {
        path = (std::filesystem::temp_directory_path() / ("babygpt_utf8_case_" + name)).string();
        std::ofstream(path, std::ios::binary) << bytes;
    }
    ~ScratchFile() {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
    ScratchFile(const ScratchFile&) = delete;
    ScratchFile& operator=(const ScratchFile&) = delete;
};

/// A code point at the end of a range and its bytes, written out by hand.
struct Boundary {
    char32_t cp;
    std::string bytes;
};

const std::vector<Boundary>& boundaries() {
    static const std::vector<Boundary> table = {
        {0x0000, bytes_of({0x00})},
        {0x007F, bytes_of({0x7F})},
        {0x0080, bytes_of({0xC2, 0x80})},
        {0x07FF, bytes_of({0xDF, 0xBF})},
        {0x0800, bytes_of({0xE0, 0xA0, 0x80})},
        {0xD7FF, bytes_of({0xED, 0x9F, 0xBF})},
        {0xE000, bytes_of({0xEE, 0x80, 0x80})},
        {0xFEFF, bytes_of({0xEF, 0xBB, 0xBF})},
        {0xFFFF, bytes_of({0xEF, 0xBF, 0xBF})},
        {0x10000, bytes_of({0xF0, 0x90, 0x80, 0x80})},
        {0x10FFFF, bytes_of({0xF4, 0x8F, 0xBF, 0xBF})},
    };
    return table;
}

// ---- valid input ----------------------------------------------------------------------------------

TEST_CASE("data::decode_utf8: each range end on its own, in the middle of text and all in a row") {
    std::string all;
    CodePoints all_expected;
    for (const Boundary& b : boundaries()) {
        CAPTURE(static_cast<std::uint32_t>(b.cp));
        CHECK(data::decode_utf8(b.bytes) == CodePoints{b.cp});
        CHECK(data::decode_utf8("<" + b.bytes + ">") == CodePoints{U'<', b.cp, U'>'});
        CHECK(data::decode_utf8(b.bytes + b.bytes) == CodePoints{b.cp, b.cp});
        all += b.bytes;
        all_expected.push_back(b.cp);
    }
    CHECK(data::decode_utf8(all) == all_expected);
}

TEST_CASE("data::encode_utf8 / append_utf8: the range ends give the hand-written bytes and decode back") {
    std::string all;
    CodePoints all_points;
    for (const Boundary& b : boundaries()) {
        CAPTURE(static_cast<std::uint32_t>(b.cp));
        CHECK(data::encode_utf8({b.cp}) == b.bytes);
        std::string appended = "x";
        data::append_utf8(appended, b.cp);
        CHECK(appended == "x" + b.bytes);
        CHECK(data::decode_utf8(data::encode_utf8({b.cp})) == CodePoints{b.cp});
        all += b.bytes;
        all_points.push_back(b.cp);
    }
    CHECK(data::encode_utf8(all_points) == all);
    CHECK(data::encode_utf8({}).empty());
}

TEST_CASE("data::decode_utf8 / encode_utf8: every code point outside the surrogates, against a reference encoder") {
    // The hand-written reference must itself agree with the table above before it is trusted.
    for (const Boundary& b : boundaries()) REQUIRE(reference_bytes(b.cp) == b.bytes);

    std::string text;
    CodePoints points;
    text.reserve(4 * 0x110000);
    points.reserve(0x110000);
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        text += reference_bytes(cp);
        points.push_back(cp);
    }
    REQUIRE(points.size() == 0x110000 - 0x800);
    REQUIRE(text.size() == 0x80 * 1 + 0x780 * 2 + (0x10000 - 0x800 - 0x800) * 3 + 0x100000 * 4);
    const CodePoints decoded = data::decode_utf8(text);
    CHECK(decoded.size() == points.size());
    CHECK(decoded == points);
    CHECK(data::encode_utf8(points) == text);
}

// ---- the well-formed byte table -------------------------------------------------------------------

TEST_CASE("data::decode_utf8: every lead byte with every second byte follows RFC 3629's table") {
    // A lead byte of a multi-byte character, its second byte, then as many 80 bytes as its length needs
    // (always valid continuation bytes), so the pair alone decides. Leads that cannot start a character
    // are given three more bytes.
    int checked = 0;
    int disagreements = 0;
    for (unsigned lead = 0x80; lead <= 0xFF; ++lead) {
        const std::size_t length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 4;
        for (unsigned second = 0; second <= 0xFF; ++second) {
            std::string bytes = bytes_of({lead, second});
            while (bytes.size() < length) bytes += static_cast<char>(0x80);
            const bool expected = table_allows(lead, second);
            if (accepted(bytes) != expected) {
                ++disagreements;
                if (disagreements <= 5)
                    FAIL_CHECK("bytes " << std::hex << lead << " " << second << ": table says "
                                        << (expected ? "valid" : "invalid"));
            }
            ++checked;
        }
    }
    CHECK(checked == 128 * 256);
    CHECK(disagreements == 0);
    // Every ASCII byte is a character by itself.
    for (unsigned b = 0; b < 0x80; ++b) CHECK(data::decode_utf8(bytes_of({b})) == CodePoints{b});
}

TEST_CASE("data::decode_utf8: every surrogate U+D800..U+DFFF encoded in UTF-8 is refused") {
    int refused = 0;
    std::string first_miss;  // the first surrogate that was not refused as one, and the message
    for (std::uint32_t cp = 0xD800; cp <= 0xDFFF; ++cp) {
        const std::string bytes = bytes_of({0xED, 0x80u | ((cp >> 6) & 0x3F), 0x80u | (cp & 0x3F)});
        const std::string m = error_for("ab" + bytes);
        if (contains(m, "in.txt: invalid UTF-8 at byte offset 2 (UTF-16 surrogate)")) ++refused;
        else if (first_miss.empty()) first_miss = std::to_string(cp) + ": \"" + m + "\"";
    }
    INFO(first_miss);
    CHECK(refused == 0x800);
}

// ---- error messages -------------------------------------------------------------------------------

struct BadInput {
    const char* what;
    std::string bytes;
    std::string expected;  // a part the message must contain
};

void check_refused(const std::vector<BadInput>& cases) {
    for (const BadInput& c : cases) {
        CAPTURE(c.what);
        const std::string m = error_for(c.bytes);
        CHECK_MESSAGE(contains(m, c.expected), "message: \"" << m << "\"\nexpected part: \"" << c.expected << "\"");
        CHECK_MESSAGE(m.rfind("in.txt: invalid UTF-8 at byte offset ", 0) == 0, "message: \"" << m << "\"");
        CHECK(m.find('\n') == std::string::npos);
    }
}

TEST_CASE("data::decode_utf8: overlong forms of every length are refused") {
    check_refused({
        {"C0 80 (U+0000 in two bytes)", bytes_of({0xC0, 0x80}), "offset 0 (byte 0xc0 cannot start a character)"},
        {"C1 BF (U+007F in two bytes)", bytes_of({0xC1, 0xBF}), "offset 0 (byte 0xc1 cannot start a character)"},
        {"E0 80 80 (U+0000 in three bytes)", bytes_of({0xE0, 0x80, 0x80}), "offset 0 (overlong encoding)"},
        {"E0 9F BF (U+07FF in three bytes)", bytes_of({0xE0, 0x9F, 0xBF}), "offset 0 (overlong encoding)"},
        {"F0 80 80 80 (U+0000 in four bytes)", bytes_of({0xF0, 0x80, 0x80, 0x80}), "offset 0 (overlong encoding)"},
        {"F0 80 80 AF ('/' in four bytes)", bytes_of({0xF0, 0x80, 0x80, 0xAF}), "offset 0 (overlong encoding)"},
        {"F0 8F BF BF (U+FFFF in four bytes)", bytes_of({0xF0, 0x8F, 0xBF, 0xBF}), "offset 0 (overlong encoding)"},
        {"overlong after text", "abc" + bytes_of({0xE0, 0x80, 0xAF}), "offset 3 (overlong encoding)"},
    });
}

TEST_CASE("data::decode_utf8: values beyond U+10FFFF and bytes F5..FF are refused") {
    check_refused({
        {"F4 90 80 80 (U+110000)", bytes_of({0xF4, 0x90, 0x80, 0x80}), "offset 0 (beyond U+10FFFF)"},
        {"F4 BF BF BF (U+13FFFF)", bytes_of({0xF4, 0xBF, 0xBF, 0xBF}), "offset 0 (beyond U+10FFFF)"},
        {"beyond, after a 4-byte character", bytes_of({0xF4, 0x8F, 0xBF, 0xBF, 0xF4, 0x90, 0x80, 0x80}),
         "offset 4 (beyond U+10FFFF)"},
    });
    for (unsigned lead = 0xF5; lead <= 0xFF; ++lead) {
        CAPTURE(lead);
        const std::string m = error_for("z" + bytes_of({lead, 0x80, 0x80, 0x80}));
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", lead);
        CHECK(contains(m, std::string("byte offset 1 (byte ") + hex + " cannot start a character)"));
        CHECK(contains(m, "iconv"));  // the fix: convert the file
    }
}

TEST_CASE("data::decode_utf8: lone continuation bytes are refused wherever they are") {
    for (unsigned c = 0x80; c <= 0xBF; ++c) {
        CAPTURE(c);
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", c);
        const std::string cannot_start = std::string(" (byte ") + hex + " cannot start a character)";
        CHECK(contains(error_for(bytes_of({c})), "byte offset 0" + cannot_start));
        // After a complete 2-, 3- and 4-byte character: the offset counts bytes, not characters.
        CHECK(contains(error_for("\xC3\xA9" + bytes_of({c})), "byte offset 2" + cannot_start));
        CHECK(contains(error_for("\xE2\x82\xAC" + bytes_of({c})), "byte offset 3" + cannot_start));
        CHECK(contains(error_for("\xF0\x9F\x98\x80" + bytes_of({c})), "byte offset 4" + cannot_start));
    }
    // A fifth byte after a complete 4-byte character.
    check_refused({{"F0 9F 98 80 80", bytes_of({0xF0, 0x9F, 0x98, 0x80, 0x80}), "offset 4 (byte 0x80 cannot start"}});
}

TEST_CASE("data::decode_utf8: sequences cut short at the end and in the middle name where") {
    check_refused({
        // At the end of the text: the offset of the character's first byte, and its length.
        {"C3 at the end", "\xE2\x82\xAC\xC3", "byte offset 3: the text ends in the middle of a 2-byte character"},
        {"E2 at the end", "ab\xE2", "byte offset 2: the text ends in the middle of a 3-byte character"},
        {"E2 82 at the end", "ab\xE2\x82", "byte offset 2: the text ends in the middle of a 3-byte character"},
        {"F0 at the end", "\xF0", "byte offset 0: the text ends in the middle of a 4-byte character"},
        {"F0 9F 98 at the end", "\xC3\xA9\xF0\x9F\x98", "byte offset 2: the text ends in the middle of a 4-byte"},
        // In the middle: the offset of the byte that should have continued it, and where it started.
        {"C3 then ASCII", "\xC3" "a", "byte offset 1 (expected a continuation byte of the character starting at offset 0)"},
        {"E2 82 then ASCII", "xy\xE2\x82" "z!", "byte offset 4 (expected a continuation byte of the character starting at offset 2)"},
        {"F0 9F 98 then ASCII", "\xF0\x9F\x98" "abc", "byte offset 3 (expected a continuation byte of the character starting at offset 0)"},
        {"F0 then a new character", "\xF0\xE2\x82\xAC\xE2", "byte offset 1 (expected a continuation byte of the character starting at offset 0)"},
        {"E2 then E2 82 AC", "\xE2\xE2\x82\xAC", "byte offset 1 (expected a continuation byte of the character starting at offset 0)"},
    });
}

TEST_CASE("data::decode_utf8: the first error is the one reported, under the given source name") {
    const std::string bad_twice = "ok" + bytes_of({0xFF}) + "then" + bytes_of({0xC0, 0x80});
    CHECK(contains(error_for(bad_twice), "byte offset 2 (byte 0xff"));
    const std::string m = error_of([] { data::decode_utf8("\x80", "corpus/shakespeare.txt"); });
    CHECK(m.rfind("corpus/shakespeare.txt: invalid UTF-8 at byte offset 0", 0) == 0);
    // The default source name.
    CHECK(error_of([] { data::decode_utf8("\x80"); }).rfind("text: invalid UTF-8", 0) == 0);
}

// ---- the byte order mark -----------------------------------------------------------------------------

TEST_CASE("data::decode_utf8: the byte order mark is skipped only at offset 0 and only when asked") {
    const std::string bom = "\xEF\xBB\xBF";
    // keep is the default and is the same as asking for it.
    CHECK(data::decode_utf8(bom + "a") == CodePoints{0xFEFF, U'a'});
    CHECK(data::decode_utf8(bom + "a", "f", data::ByteOrderMark::keep) == CodePoints{0xFEFF, U'a'});
    CHECK(data::decode_utf8(bom, "f", data::ByteOrderMark::keep) == CodePoints{0xFEFF});
    // skip: only the three bytes at offset 0, not one after a space, a newline or another character.
    CHECK(data::decode_utf8(bom + "\xC3\xA9", "f", data::ByteOrderMark::skip) == CodePoints{0xE9});
    CHECK(data::decode_utf8(" " + bom, "f", data::ByteOrderMark::skip) == CodePoints{U' ', 0xFEFF});
    CHECK(data::decode_utf8("\n" + bom + "x", "f", data::ByteOrderMark::skip) == CodePoints{U'\n', 0xFEFF, U'x'});
    CHECK(data::decode_utf8(bom + "a" + bom, "f", data::ByteOrderMark::skip) == CodePoints{U'a', 0xFEFF});
    // Neighbours of the mark are characters, not marks: U+FEFE and U+FFFE.
    CHECK(data::decode_utf8("\xEF\xBB\xBE" "a", "f", data::ByteOrderMark::skip) == CodePoints{0xFEFE, U'a'});
    CHECK(data::decode_utf8("\xEF\xBF\xBE", "f", data::ByteOrderMark::skip) == CodePoints{0xFFFE});
    CHECK(data::decode_utf8("", "f", data::ByteOrderMark::skip).empty());
    // Two bytes of a mark are a cut-short character, skip or not; the offset is unchanged by skip.
    CHECK(contains(error_of([] { data::decode_utf8("\xEF\xBB", "f", data::ByteOrderMark::skip); }),
                   "f: invalid UTF-8 at byte offset 0: the text ends in the middle of a 3-byte character"));
    // After a skipped mark, offsets still count from the start of the text.
    CHECK(contains(error_of([&] { data::decode_utf8(bom + "ab\xFF", "f", data::ByteOrderMark::skip); }),
                   "byte offset 5 (byte 0xff"));
    // A UTF-16 byte order mark is not UTF-8: the file needs converting.
    CHECK(contains(error_of([] { data::decode_utf8("\xFF\xFEh\0", "f", data::ByteOrderMark::skip); }),
                   "byte offset 0 (byte 0xff cannot start a character)"));
}

TEST_CASE("data::read_utf8_file: a corpus loses its leading byte order mark and keeps every other character") {
    const std::string bom = "\xEF\xBB\xBF";
    const ScratchFile only_mark(bom, "only_mark.txt");
    CHECK(data::read_utf8_file(only_mark.path).empty());
    CHECK(data::read_file(only_mark.path) == bom);

    const ScratchFile text(bom + "\xE4\xBD\xA0\xE5\xA5\xBD\n" + bom, "mixed.txt");
    CHECK(data::read_utf8_file(text.path) == CodePoints{0x4F60, 0x597D, U'\n', 0xFEFF});

    const ScratchFile no_mark(std::string("a\0b", 3), "no_mark.txt");
    CHECK(data::read_utf8_file(no_mark.path) == CodePoints{U'a', 0, U'b'});

    const ScratchFile empty("", "empty.txt");
    CHECK(data::read_file(empty.path).empty());
    CHECK(data::read_utf8_file(empty.path).empty());

    // An error in a file names its path and the offset in the file (the mark's three bytes included).
    const ScratchFile bad(bom + "abc" + bytes_of({0xED, 0xA0, 0x80}), "surrogate.txt");
    const std::string m = error_of([&] { data::read_utf8_file(bad.path); });
    CHECK(m.rfind(bad.path + ": invalid UTF-8 at byte offset 6 (UTF-16 surrogate)", 0) == 0);
}

TEST_CASE("data::read_file: a directory is refused by name, not read") {
    const std::string dir = std::filesystem::temp_directory_path().string();
    const std::string m = error_of([&] { data::read_file(dir); });
    CHECK(contains(m, dir));
    CHECK(contains(m, "not a regular file (a directory)"));
}

}  // namespace utf8_case
