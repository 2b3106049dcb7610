#pragma once
// The character vocabulary: the sorted distinct code points of the training text, as the reference's
// `chars = sorted(set(text))`. Token id i is the i-th smallest code point.

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "babygpt/data/utf8.hpp"
#include "babygpt/error.hpp"

namespace babygpt::data {

class Vocabulary {
public:
    Vocabulary() = default;

    /// The sorted distinct code points of `text`.
    static Vocabulary from_text(const std::vector<char32_t>& text) {
        std::vector<char32_t> chars(text);
        std::sort(chars.begin(), chars.end());
        chars.erase(std::unique(chars.begin(), chars.end()), chars.end());
        return Vocabulary(std::move(chars));
    }

    /// A vocabulary from its characters (e.g. read back from a checkpoint); they must be sorted and distinct.
    explicit Vocabulary(std::vector<char32_t> chars) : chars_(std::move(chars)) {
        for (std::size_t i = 0; i < chars_.size(); ++i) {
            BABYGPT_CHECK(i == 0 || chars_[i - 1] < chars_[i],
                          "Vocabulary: the characters must be sorted and distinct");
            ids_.emplace(chars_[i], static_cast<std::int64_t>(i));
        }
    }

    /// The characters as UTF-8 text, e.g. to store in a checkpoint's metadata; from_utf8 reads it back.
    /// Every code point round-trips, U+0000 and U+FEFF included (the text is not a file: no byte order
    /// mark is added or dropped).
    std::string to_utf8() const { return encode_utf8(chars_); }

    /// The vocabulary whose characters are the UTF-8 `text` written by to_utf8(); throws babygpt::Error
    /// naming `source` if the text is not valid UTF-8 or its characters are not sorted and distinct.
    static Vocabulary from_utf8(const std::string& text, const std::string& source) {
        std::vector<char32_t> chars = decode_utf8(text, source + " (vocabulary)", ByteOrderMark::keep);
        for (std::size_t i = 1; i < chars.size(); ++i)
            BABYGPT_CHECK(chars[i - 1] < chars[i], source, ": the stored vocabulary is corrupt: characters ", i - 1,
                          " and ", i, " (", describe(chars[i - 1]), ", ", describe(chars[i]),
                          ") are not in increasing order; the file was damaged or not written by babygpt");
        return Vocabulary(std::move(chars));
    }

    std::int64_t size() const { return static_cast<std::int64_t>(chars_.size()); }
    const std::vector<char32_t>& chars() const { return chars_; }
    bool contains(char32_t c) const { return ids_.count(c) > 0; }

    /// Code points -> token ids. Characters outside the vocabulary are an error naming the first few.
    std::vector<std::int64_t> encode(const std::vector<char32_t>& text) const {
        std::vector<std::int64_t> ids;
        ids.reserve(text.size());
        std::vector<char32_t> unknown;  // in order of first appearance, each once
        std::unordered_set<char32_t> seen;
        for (char32_t c : text) {
            auto it = ids_.find(c);
            if (it != ids_.end()) ids.push_back(it->second);
            else if (seen.insert(c).second) unknown.push_back(c);
        }
        if (!unknown.empty()) {
            std::string list;
            for (std::size_t i = 0; i < unknown.size() && i < 8; ++i) list += (i ? ", " : "") + describe(unknown[i]);
            if (unknown.size() > 8) list += ", ...";
            detail::throw_error("the text has ", unknown.size(), " character", unknown.size() == 1 ? "" : "s",
                                " not in the model's vocabulary: ", list,
                                "; use only characters that occur in the training text");
        }
        return ids;
    }
    std::vector<std::int64_t> encode(const std::string& utf8) const { return encode(decode_utf8(utf8)); }

    /// Token ids -> UTF-8 text.
    std::string decode(const std::vector<std::int64_t>& ids) const {
        std::string out;
        for (std::int64_t id : ids) append_utf8(out, at(id));
        return out;
    }
    char32_t at(std::int64_t id) const {
        BABYGPT_CHECK(id >= 0 && id < size(), "Vocabulary: token id ", id, " is out of range for ", size(), " characters");
        return chars_[static_cast<std::size_t>(id)];
    }

    /// A printable description of one character: 'x', or U+000A for control and invisible characters.
    static std::string describe(char32_t c) {
        const bool invisible = c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0xFEFF || (c >= 0x2028 && c <= 0x2029);
        if (invisible) {
            char buffer[16];
            std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(c));
            return buffer;
        }
        std::string s = "'";
        append_utf8(s, c);
        return s + "'";
    }

private:
    std::vector<char32_t> chars_;
    std::unordered_map<char32_t, std::int64_t> ids_;
};

}  // namespace babygpt::data
