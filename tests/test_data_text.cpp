// Text data: strict UTF-8 decoding, the byte order mark only at the start of a file, reading text files,
// and the character vocabulary's round trips.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "babygpt/data/utf8.hpp"
#include "babygpt/data/vocabulary.hpp"
#include "babygpt/io/safetensors.hpp"
#include "babygpt/random.hpp"

#include "helpers.hpp"

namespace {

namespace data = babygpt::data;
namespace fs = std::filesystem;
using babygpt_test::error_of;
using Chars = std::vector<char32_t>;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

#define CHECK_ERROR_HAS(message, part) \
    CHECK_MESSAGE(has(message, part), "error message: \"" << (message) << "\"\nexpected to contain: \"" << (part) << "\"")

std::string decode_error(const std::string& bytes) { return error_of([&] { data::decode_utf8(bytes, "t.txt"); }); }

/// A file in the temporary directory holding `bytes`, removed at the end.
struct TextTempFile {
    std::string path;
    explicit TextTempFile(const std::string& bytes) {
        static int counter = 0;
        path = (fs::temp_directory_path() / ("babygpt_text_test_" + std::to_string(std::rand()) + "_" +
                                             std::to_string(counter++) + ".txt"))
                   .string();
        std::ofstream(path, std::ios::binary) << bytes;
    }
    ~TextTempFile() {
        std::error_code ignored;
        fs::remove(path, ignored);
    }
};

/// A random code point: mostly from the edges that break codecs (U+0000, U+FEFF, the ends of each
/// UTF-8 length, around the surrogates, U+10FFFF), otherwise anywhere valid.
char32_t random_code_point(babygpt::Generator& gen) {
    static const char32_t edges[] = {0x0,    0x1,    0x7F,   0x80,    0x7FF,   0x800,    0xD7FF,
                                     0xE000, 0xFEFF, 0xFFFE, 0xFFFF,  0x10000, 0x10FFFF, 0xEF,
                                     0xBB,   0xBF,   0xFFFD, 0x2028,  0x1F600, 0xFEFE,   0xFF00};
    if (gen.randint(3) == 0) return edges[gen.randint(static_cast<std::int64_t>(std::size(edges)))];
    for (;;) {
        const auto cp = static_cast<char32_t>(gen.randint(0x110000));
        if (cp < 0xD800 || cp > 0xDFFF) return cp;
    }
}

}  // namespace

// ---- decoding ----------------------------------------------------------------------------------------

TEST_CASE("data::decode_utf8: every length, the ends of each range") {
    CHECK(data::decode_utf8("") == Chars{});
    CHECK(data::decode_utf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == Chars{U'a', 0xE9, 0x20AC, 0x1F600});
    CHECK(data::decode_utf8(std::string("\0x", 2)) == Chars{0, U'x'});
    CHECK(data::decode_utf8("\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF") ==
          Chars{0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF});
    CHECK(data::decode_utf8("\xED\x9F\xBF\xEE\x80\x80") == Chars{0xD7FF, 0xE000});  // either side of the surrogates
}

TEST_CASE("data::decode_utf8: malformed input is refused with the byte offset and the reason") {
    struct Case {
        const char* what;
        std::string bytes;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"overlong 2-byte (C0)", "ab\xC0\x80", "byte offset 2 (byte 0xc0 cannot start a character)"},
        {"overlong 2-byte (C1)", "\xC1\xBF", "byte 0xc1 cannot start"},
        {"overlong 3-byte", "x\xE0\x80\xAF", "byte offset 1 (overlong encoding)"},
        {"overlong 4-byte", "\xF0\x8F\xBF\xBF", "overlong encoding"},
        {"high surrogate", "\xED\xA0\x80", "UTF-16 surrogate"},
        {"low surrogate", "ok\xED\xBF\xBF", "byte offset 2 (UTF-16 surrogate)"},
        {"above U+10FFFF (F4 90)", "\xF4\x90\x80\x80", "beyond U+10FFFF"},
        {"F5 lead byte", "\xF5\x80\x80\x80", "byte 0xf5 cannot start"},
        {"FF byte", "\xFF", "byte 0xff cannot start"},
        {"lone continuation byte", "a\x80", "byte offset 1 (byte 0x80 cannot start"},
        {"truncated 2-byte at the end", "abc\xC3", "byte offset 3: the text ends in the middle of a 2-byte character"},
        {"truncated 4-byte at the end", "\xF0\x9F\x98", "middle of a 4-byte character"},
        {"continuation missing mid-text", "\xE2\x82x", "byte offset 2 (expected a continuation byte"},
        {"BOM cut short", "\xEF\xBB", "middle of a 3-byte character"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        const std::string m = decode_error(c.bytes);
        CHECK_ERROR_HAS(m, "t.txt: invalid UTF-8 at ");
        CHECK_ERROR_HAS(m, c.expected);
        CHECK(m.find('\n') == std::string::npos);
    }
}

TEST_CASE("data::decode_utf8: a byte order mark is a character unless skipped at the start of a file") {
    const std::string bom = "\xEF\xBB\xBF";
    CHECK(data::decode_utf8(bom + "hi") == Chars{0xFEFF, U'h', U'i'});
    CHECK(data::decode_utf8(bom + "hi", "f", data::ByteOrderMark::skip) == Chars{U'h', U'i'});
    // Only at offset 0: one in the middle, or a second one, is text.
    CHECK(data::decode_utf8("a" + bom, "f", data::ByteOrderMark::skip) == Chars{U'a', 0xFEFF});
    CHECK(data::decode_utf8(bom + bom, "f", data::ByteOrderMark::skip) == Chars{0xFEFF});
    CHECK(data::decode_utf8(bom, "f", data::ByteOrderMark::skip).empty());

    const TextTempFile with_bom(bom + "x" + bom + "y");
    CHECK(data::read_utf8_file(with_bom.path) == Chars{U'x', 0xFEFF, U'y'});
    CHECK(data::read_file(with_bom.path) == bom + "x" + bom + "y");
    const TextTempFile bad("ok\n\xC3(");
    const std::string m = error_of([&] { data::read_utf8_file(bad.path); });
    CHECK_ERROR_HAS(m, bad.path);
    CHECK_ERROR_HAS(m, "byte offset 4");
}

TEST_CASE("data::read_file: a missing file names the path and the fix") {
    const std::string missing = (fs::temp_directory_path() / "babygpt_no_such_corpus.txt").string();
    const std::string m = error_of([&] { data::read_file(missing); });
    CHECK_ERROR_HAS(m, missing);
    CHECK_ERROR_HAS(m, "cannot open");
    CHECK(m.find('\n') == std::string::npos);
}

// ---- vocabulary ---------------------------------------------------------------------------------------

TEST_CASE("data::Vocabulary: U+FEFF and U+0000 as the smallest characters survive the round trip") {
    const data::Vocabulary bom_first(Chars{0xFEFF, 0x10000});
    const std::string stored = bom_first.to_utf8();
    CHECK(stored.rfind("\xEF\xBB\xBF", 0) == 0);  // the stored text starts with the bytes of a BOM
    CHECK(data::Vocabulary::from_utf8(stored, "ck").chars() == bom_first.chars());
    CHECK(data::decode_utf8(stored) == bom_first.chars());

    const data::Vocabulary nul_first(Chars{0, U'a', 0xFEFF});
    CHECK(data::Vocabulary::from_utf8(nul_first.to_utf8(), "ck").chars() == nul_first.chars());
    CHECK(nul_first.encode(std::string("\0a\xEF\xBB\xBF", 5)) == std::vector<std::int64_t>{0, 1, 2});
    CHECK(nul_first.decode({2, 0, 1}) == std::string("\xEF\xBB\xBF\0a", 5));
}

TEST_CASE("data::Vocabulary: random sets of code points round-trip through UTF-8, a safetensors header and encode") {
    babygpt::Generator gen(20240611);
    for (int round = 0; round < 300; ++round) {
        CAPTURE(round);
        const auto count = 1 + gen.randint(round % 10 == 0 ? 2000 : 40);
        std::set<char32_t> picked;
        if (round % 3 == 0) picked.insert(0xFEFF);  // often the smallest: every other pick is larger or absent
        if (round % 5 == 0) picked.insert(0);
        while (static_cast<std::int64_t>(picked.size()) < count) {
            const char32_t cp = random_code_point(gen);
            if (round % 3 != 0 || cp > 0xFEFF) picked.insert(cp);
        }
        Chars text(picked.begin(), picked.end());
        for (int i = 0; i < 50; ++i) text.push_back(text[static_cast<std::size_t>(gen.randint(count))]);
        const data::Vocabulary vocabulary = data::Vocabulary::from_text(text);
        REQUIRE(vocabulary.size() == count);
        CHECK(vocabulary.chars() == Chars(picked.begin(), picked.end()));

        // As a checkpoint stores it: the characters as UTF-8 in a metadata string of a safetensors file.
        babygpt::safetensors::Contents file;
        file.metadata["vocab"] = vocabulary.to_utf8();
        const auto back = babygpt::safetensors::parse(babygpt::safetensors::serialize(file), "round.st");
        const data::Vocabulary loaded = data::Vocabulary::from_utf8(back.metadata.at("vocab"), "round.st");
        REQUIRE(loaded.chars() == vocabulary.chars());

        // Text -> ids -> text, through both the code-point and the UTF-8 forms.
        const std::vector<std::int64_t> ids = loaded.encode(text);
        CHECK(loaded.decode(ids) == data::encode_utf8(text));
        CHECK(loaded.encode(data::encode_utf8(text)) == ids);
        for (std::size_t i = 0; i < text.size(); ++i) CHECK(loaded.at(ids[i]) == text[i]);
    }
}

TEST_CASE("data::Vocabulary: a corrupt stored vocabulary and unknown characters are one-line errors") {
    std::string m = error_of([] { data::Vocabulary::from_utf8("ba", "ck.st"); });
    CHECK_ERROR_HAS(m, "ck.st: the stored vocabulary is corrupt");
    m = error_of([] { data::Vocabulary::from_utf8("a\xFF", "ck.st"); });
    CHECK_ERROR_HAS(m, "ck.st (vocabulary): invalid UTF-8 at byte offset 1");

    const data::Vocabulary abc(Chars{U'a', U'b', U'c'});
    Chars many;
    for (char32_t c = 0x4E00; c < 0x4E00 + 5000; ++c) many.push_back(c);
    many.push_back(0xFEFF);
    many.push_back(U'\n');
    m = error_of([&] { abc.encode(many); });
    CHECK_ERROR_HAS(m, "the text has 5002 characters not in the model's vocabulary");
    CHECK_ERROR_HAS(m, ", ...");
    CHECK(m.size() < 300);
    m = error_of([&] { abc.encode(Chars{0xFEFF, U'\n', 0x85}); });
    CHECK_ERROR_HAS(m, "U+FEFF, U+000A, U+0085");
    CHECK(m.find('\n') == std::string::npos);
}
