#pragma once
// UTF-8 <-> Unicode code points. The model's tokens are code points, so a Chinese character is one
// token, not three bytes. Decoding is strict (RFC 3629): overlong forms, surrogates, values above
// U+10FFFF and truncated sequences are errors that name the byte offset.

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "babygpt/error.hpp"

namespace babygpt::data {

/// Decodes UTF-8 text into code points; throws babygpt::Error naming the offset of the first bad byte.
/// `source` names the text in messages (a file name).
inline std::vector<char32_t> decode_utf8(const std::string& text, const std::string& source = "text") {
    std::vector<char32_t> out;
    out.reserve(text.size());
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    // Skip a byte order mark at the very start, as text editors write one.
    if (n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) i = 3;
    while (i < n) {
        const unsigned char lead = bytes[i];
        int length;
        char32_t cp;
        if (lead < 0x80) { length = 1; cp = lead; }
        else if (lead >= 0xC2 && lead <= 0xDF) { length = 2; cp = lead & 0x1F; }
        else if (lead >= 0xE0 && lead <= 0xEF) { length = 3; cp = lead & 0x0F; }
        else if (lead >= 0xF0 && lead <= 0xF4) { length = 4; cp = lead & 0x07; }
        else {
            detail::throw_error(source, ": invalid UTF-8 at byte offset ", i, " (byte 0x", std::hex,
                                static_cast<int>(lead), std::dec, " cannot start a character); convert the file ",
                                "to UTF-8 (e.g. iconv -f latin1 -t utf-8)");
        }
        BABYGPT_CHECK(i + static_cast<std::size_t>(length) <= n, source, ": invalid UTF-8 at byte offset ", i,
                      ": the text ends in the middle of a ", length, "-byte character");
        for (int k = 1; k < length; ++k) {
            const unsigned char c = bytes[i + static_cast<std::size_t>(k)];
            BABYGPT_CHECK((c & 0xC0) == 0x80, source, ": invalid UTF-8 at byte offset ", i + static_cast<std::size_t>(k),
                          " (expected a continuation byte of the character starting at offset ", i, ")");
            cp = (cp << 6) | (c & 0x3F);
        }
        const bool overlong = (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000);
        const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        BABYGPT_CHECK(!overlong && !surrogate && cp <= 0x10FFFF, source, ": invalid UTF-8 at byte offset ", i,
                      " (", overlong ? "overlong encoding" : surrogate ? "UTF-16 surrogate" : "beyond U+10FFFF", ")");
        out.push_back(cp);
        i += static_cast<std::size_t>(length);
    }
    return out;
}

/// Appends the UTF-8 bytes of one code point to `out`.
inline void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

/// Code points -> UTF-8 text.
inline std::string encode_utf8(const std::vector<char32_t>& code_points) {
    std::string out;
    for (char32_t cp : code_points) append_utf8(out, cp);
    return out;
}

/// The whole file as bytes; throws naming the path if it cannot be opened or read.
inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    BABYGPT_CHECK(in.good(), path, ": cannot open the file (does it exist, and is it readable?)");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BABYGPT_CHECK(!in.bad(), path, ": error while reading the file");
    return bytes;
}

}  // namespace babygpt::data
