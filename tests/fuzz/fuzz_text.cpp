// libFuzzer target: text as a corpus file and as a stored vocabulary. Decoding either succeeds or
// throws a one-line babygpt::Error; a decoded text's vocabulary encodes and decodes it back to the same
// bytes, and the vocabulary's own UTF-8 form reads back as the same vocabulary.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "babygpt/data/utf8.hpp"
#include "babygpt/data/vocabulary.hpp"

namespace data = babygpt::data;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(bytes), size);
    for (const data::ByteOrderMark bom : {data::ByteOrderMark::keep, data::ByteOrderMark::skip}) {
        std::vector<char32_t> chars;
        try {
            chars = data::decode_utf8(text, "fuzz.txt", bom);
        } catch (const babygpt::Error& e) {
            if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
            continue;
        }
        const bool skipped = bom == data::ByteOrderMark::skip && text.rfind("\xEF\xBB\xBF", 0) == 0;
        if (data::encode_utf8(chars) != (skipped ? text.substr(3) : text)) std::abort();
        const data::Vocabulary vocabulary = data::Vocabulary::from_text(chars);
        const std::vector<std::int64_t> ids = vocabulary.encode(chars);
        if (vocabulary.decode(ids) != data::encode_utf8(chars)) std::abort();
        if (data::Vocabulary::from_utf8(vocabulary.to_utf8(), "stored").chars() != vocabulary.chars()) std::abort();
    }
    // The bytes as a stored vocabulary: refused as corrupt, or a vocabulary that writes back the same bytes.
    try {
        const data::Vocabulary stored = data::Vocabulary::from_utf8(text, "fuzz.st");
        if (stored.to_utf8() != text) std::abort();
    } catch (const babygpt::Error& e) {
        if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
    }
    return 0;
}
