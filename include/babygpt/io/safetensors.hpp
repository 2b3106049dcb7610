#pragma once
// safetensors: reading and writing the safetensors file format (named tensors plus string metadata).
//
// Layout of a file:
//   bytes [0, 8)       N, the header size: an unsigned 64-bit little-endian integer;
//   bytes [8, 8 + N)   the header: a UTF-8 JSON object. Each key names a tensor and maps to
//                        {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
//                      and the optional key "__metadata__" maps to an object of string -> string.
//                      Writers pad the header with spaces (0x20) to a multiple of 8 bytes;
//   bytes [8 + N, ...) the data buffer. data_offsets are byte offsets into it (end exclusive); each tensor
//                      is stored row-major and little-endian, and the tensors tile the buffer exactly:
//                      no holes, no overlaps, no trailing bytes.
//
//     namespace st = babygpt::safetensors;
//     Tensorf wte = Tensorf::zeros({65, 32});
//     st::Contents file;
//     file.tensors["wte"] = st::from_tensor(wte);          // Tensorf -> F32
//     file.metadata["n_layer"] = "2";
//     st::save("model.safetensors", file);                 // atomic: temporary file, fsync, rename
//     st::Contents back = st::load("model.safetensors");   // validates everything first
//     Tensorf w = st::get<float>(back, "wte");
//
// parse() validates the whole header (types, dtypes, shapes, offsets, sizes, tiling, duplicate keys)
// before copying any tensor bytes, and throws babygpt::Error naming the file, the tensor and what was
// expected. float, double and std::int64_t convert to and from F32, F64 and I64 (F32 and F64 both
// load into float or double); the other dtypes are recognised and kept as raw bytes, and converting
// them to a Tensor throws. Entry fields other than dtype, shape and data_offsets are ignored.
//
// io::write_file_atomically(), at the end of this file, is how save() writes: it writes any bytes to any
// file so that a crash never leaves a partial file.
//
// The writer puts "__metadata__" first (when there is any), then the tensors in name order, each
// tensor's bytes following the previous one's, in the compact JSON form {"a":{"dtype":...},...}.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "babygpt/data/utf8.hpp"
#include "babygpt/error.hpp"
#include "babygpt/shape.hpp"
#include "babygpt/tensor.hpp"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <sys/stat.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace babygpt::safetensors {

// ---- dtypes ----------------------------------------------------------------------------------------

enum class DType { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

namespace detail {

struct DTypeInfo {
    DType dtype;
    const char* name;
    std::size_t size;  // bytes per element
};

inline constexpr DTypeInfo dtype_table[] = {
    {DType::BOOL, "BOOL", 1}, {DType::U8, "U8", 1},   {DType::I8, "I8", 1},
    {DType::F8_E5M2, "F8_E5M2", 1}, {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::I16, "I16", 2},   {DType::U16, "U16", 2}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I32, "I32", 4},   {DType::U32, "U32", 4}, {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},   {DType::I64, "I64", 8}, {DType::U64, "U64", 8},
};

inline const DTypeInfo& dtype_info(DType dtype) {
    for (const DTypeInfo& entry : dtype_table)
        if (entry.dtype == dtype) return entry;
    ::babygpt::detail::throw_error("safetensors: invalid DType value ", static_cast<int>(dtype));
}

}  // namespace detail

/// "F32", "I64", ... as written in the header.
inline const char* dtype_name(DType dtype) { return detail::dtype_info(dtype).name; }

/// Bytes per element: 4 for F32, 8 for I64, ...
inline std::size_t dtype_size(DType dtype) { return detail::dtype_info(dtype).size; }

/// The DType spelled `name` in a header, or nothing if the name is unknown.
inline std::optional<DType> dtype_from_name(const std::string& name) {
    for (const detail::DTypeInfo& entry : detail::dtype_table)
        if (name == entry.name) return entry.dtype;
    return std::nullopt;
}

/// "BOOL, U8, ..., U64": for error messages.
inline std::string dtype_names() {
    std::string names;
    for (const detail::DTypeInfo& entry : detail::dtype_table) {
        if (!names.empty()) names += ", ";
        names += entry.name;
    }
    return names;
}

/// The DType a Tensor<T> is stored as: F32 for float, F64 for double, I64 for std::int64_t.
template <typename T>
constexpr DType dtype_of() {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t>,
                  "safetensors: only float, double and std::int64_t tensors convert to safetensors dtypes");
    if constexpr (std::is_same_v<T, float>) return DType::F32;
    else if constexpr (std::is_same_v<T, double>) return DType::F64;
    else return DType::I64;
}

// ---- contents --------------------------------------------------------------------------------------

/// One tensor as stored: its dtype, shape and raw little-endian row-major bytes.
struct Entry {
    DType dtype = DType::F32;
    Shape shape;
    std::vector<unsigned char> data;
};

/// A whole file: tensors by name and the "__metadata__" string map.
struct Contents {
    std::map<std::string, Entry> tensors;
    std::map<std::string, std::string> metadata;
};

/// Header sizes above this are refused (as the reference implementation does), before any allocation.
inline constexpr std::uint64_t max_header_size = 100'000'000;

/// Arrays and objects nested deeper than this in a header are refused while parsing. A valid header
/// needs 3 levels (the header object, an entry, its shape or offsets); the limit keeps every later step
/// (messages included) far from the stack's end whatever the file holds.
inline constexpr std::size_t max_header_depth = 64;

namespace detail {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

inline constexpr const char* metadata_key = "__metadata__";

// ---- little-endian bytes (written with shifts, so they are right whatever the host's byte order) ----

template <typename U>
U load_le(const unsigned char* bytes) {
    U value = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i) value |= static_cast<U>(static_cast<U>(bytes[i]) << (8 * i));
    return value;
}

template <typename U>
void store_le(U value, unsigned char* bytes) {
    for (std::size_t i = 0; i < sizeof(U); ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
}

template <typename To, typename From>
To bit_cast(const From& from) {
    static_assert(sizeof(To) == sizeof(From), "bit_cast: sizes differ");
    To to;
    std::memcpy(&to, &from, sizeof(To));
    return to;
}

/// double -> float without the undefined behaviour of converting an out-of-range value: those become +-inf.
inline float narrow_to_float(double value) {
    if (std::isfinite(value) && std::fabs(value) > static_cast<double>(std::numeric_limits<float>::max()))
        return value > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
    return static_cast<float>(value);
}

/// Reads element i of a buffer of `dtype` (F32, F64 or I64) as a U: float, double or std::int64_t. An F64
/// too large for a float reads as +-inf.
template <typename U>
U read_element(DType dtype, const unsigned char* bytes, std::size_t i) {
    switch (dtype) {
        case DType::F32: return static_cast<U>(bit_cast<float>(load_le<std::uint32_t>(bytes + 4 * i)));
        case DType::F64: {
            const double value = bit_cast<double>(load_le<std::uint64_t>(bytes + 8 * i));
            if constexpr (std::is_same_v<U, float>) return narrow_to_float(value);
            else return static_cast<U>(value);
        }
        default: return static_cast<U>(bit_cast<std::int64_t>(load_le<std::uint64_t>(bytes + 8 * i)));
    }
}

template <typename T>
void write_element(T value, unsigned char* bytes, std::size_t i) {
    if constexpr (std::is_same_v<T, float>) store_le(bit_cast<std::uint32_t>(value), bytes + 4 * i);
    else store_le(bit_cast<std::uint64_t>(value), bytes + 8 * i);  // double or std::int64_t
}

// ---- sizes -------------------------------------------------------------------------------------------

/// numel(shape) * dtype_size(dtype), or nothing if a dimension is negative or the product (or any
/// running product, read left to right) does not fit in an int64 / size_t.
inline std::optional<std::uint64_t> checked_byte_count(DType dtype, const Shape& shape) {
    const auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    std::uint64_t count = 1;
    for (std::int64_t d : shape) {
        if (d < 0) return std::nullopt;
        const auto ud = static_cast<std::uint64_t>(d);
        if (ud != 0 && count > limit / ud) return std::nullopt;
        count *= ud;
    }
    const std::uint64_t size = dtype_size(dtype);
    if (count > limit / size || count * size > std::numeric_limits<std::size_t>::max()) return std::nullopt;
    return count * size;
}

/// The byte count an entry must have; throws (naming `what`) if the shape is negative or overflows.
inline std::size_t expected_bytes(const Entry& entry, const std::string& what) {
    const auto bytes = checked_byte_count(entry.dtype, entry.shape);
    BABYGPT_CHECK(bytes.has_value(), what, ": shape ", to_string(entry.shape),
                  " has a negative dimension or too many elements to address");
    return static_cast<std::size_t>(*bytes);
}

/// Bytes outside printable ASCII (other than UTF-8 sequences) as \xNN, so a message stays on one line.
/// Text longer than `limit` bytes is cut (at a character boundary) and ends in "...": names and values
/// come from files, and a message must not carry megabytes of them.
inline std::string printable(const std::string& text, bool keep_utf8 = true, std::size_t limit = 200) {
    static const char digits[] = "0123456789abcdef";
    std::size_t shown = std::min(text.size(), limit);
    while (shown < text.size() && shown > 0 && (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) --shown;
    std::string out;
    for (std::size_t i = 0; i < shown; ++i) {
        const char c = text[i];
        const auto byte = static_cast<unsigned char>(c);
        if ((byte >= 0x20 && byte < 0x7F) || (keep_utf8 && byte >= 0x80)) {
            out += c;
        } else {
            out += "\\x";
            out += digits[byte >> 4];
            out += digits[byte & 0xF];
        }
    }
    if (shown < text.size()) out += "...";
    return out;
}

/// 'name' for a message: escaped and cut to 64 bytes.
inline std::string quote_name(const std::string& name) { return "'" + printable(name, true, 64) + "'"; }

/// 'path' for a message: escaped, not cut (the caller chose it).
inline std::string quote_path(const std::string& path) { return "'" + printable(path, true, path.size()) + "'"; }

// ---- parsing the header --------------------------------------------------------------------------------

/// Where the header and the data buffer lie in a file of `size` bytes.
struct Layout {
    std::size_t header_size;
    std::size_t data_begin;  // 8 + header_size
};

inline Layout read_layout(const unsigned char* bytes, std::size_t size, const std::string& source) {
    BABYGPT_CHECK(size >= 8, "safetensors: ", source, ": the file has ", size,
                  " bytes, shorter than the 8-byte header size that starts every safetensors file");
    const std::uint64_t n = load_le<std::uint64_t>(bytes);
    BABYGPT_CHECK(n <= max_header_size, "safetensors: ", source, ": header size ", n, " exceeds the limit of ",
                  max_header_size, " bytes (is this a safetensors file?)");
    BABYGPT_CHECK(n <= size - 8, "safetensors: ", source, ": header size ", n, " runs past the end of the file (",
                  size, " bytes, so at most ", size - 8, " header bytes); the file may be truncated");
    return {static_cast<std::size_t>(n), 8 + static_cast<std::size_t>(n)};
}

/// nlohmann's message without its "[json.exception.parse_error.101] " prefix, escaped and cut short
/// (it quotes the last token read, which can be a whole string from the file).
inline std::string json_error_reason(const std::string& what) {
    std::string reason = what;
    const std::size_t bracket = reason.find("] ");
    if (reason.rfind("[json.exception.", 0) == 0 && bracket != std::string::npos) reason.erase(0, bracket + 2);
    return printable(reason, false, 300);
}

/// A first pass over the header as SAX events, in time linear in its size: refuses nesting deeper than
/// max_header_depth, a header that is not an object, and a key twice in one object (nlohmann would
/// silently keep the last). Only then is the DOM built, so no later step meets a hostile structure.
/// (nlohmann's parse callback could check keys too, but it scans the parent object at every object's
/// end: quadratic in the number of tensors.)
class HeaderChecker : public nlohmann::json_sax<Json> {
public:
    explicit HeaderChecker(const std::string& source) : source_(source) {}

    bool null() override { return value("null"); }
    bool boolean(bool) override { return value("boolean"); }
    bool number_integer(number_integer_t) override { return value("number"); }
    bool number_unsigned(number_unsigned_t) override { return value("number"); }
    bool number_float(number_float_t, const string_t&) override { return value("number"); }
    bool string(string_t&) override { return value("string"); }
    bool binary(binary_t&) override { return value("binary"); }

    bool start_object(std::size_t) override {
        open("object");
        keys_.emplace_back();
        return true;
    }
    bool key(string_t& key) override {
        const bool top_level = depth_ == 1;
        if (top_level) current_entry_ = key;
        BABYGPT_CHECK(keys_.back().insert(key).second, "safetensors: ", source_, ": the header has the key ",
                      quote_name(key), " twice ",
                      top_level ? std::string("at the top level") : "inside entry " + quote_name(current_entry_));
        return true;
    }
    bool end_object() override {
        keys_.pop_back();
        --depth_;
        return true;
    }
    bool start_array(std::size_t) override {
        open("array");
        return true;
    }
    bool end_array() override {
        --depth_;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
        ::babygpt::detail::throw_error("safetensors: ", source_, ": the header is not valid UTF-8 JSON (",
                                       json_error_reason(e.what()), ")");
    }

private:
    bool value(const char* type) {
        BABYGPT_CHECK(depth_ > 0, "safetensors: ", source_, ": the header must be a JSON object, got ", type);
        return true;
    }
    void open(const char* type) {
        BABYGPT_CHECK(depth_ > 0 || std::strcmp(type, "object") == 0, "safetensors: ", source_,
                      ": the header must be a JSON object, got ", type);
        BABYGPT_CHECK(depth_ < max_header_depth, "safetensors: ", source_,
                      ": the header nests arrays and objects more than ", max_header_depth,
                      " levels deep (a safetensors header needs 3); the file is corrupt or not a safetensors file");
        ++depth_;
    }

    const std::string& source_;
    std::size_t depth_ = 0;                    // arrays and objects open at this point
    std::vector<std::set<std::string>> keys_;  // keys seen so far in each open object
    std::string current_entry_;                // the latest top-level key, for messages
};

/// Parses the header text as JSON after HeaderChecker has passed it.
inline Json parse_json(const unsigned char* begin, std::size_t size, const std::string& source) {
    // nlohmann stops at a NUL byte as if the input ended there, so "{}\0garbage" would pass; valid JSON
    // text never contains one (even inside strings it must be escaped).
    const void* nul = size == 0 ? nullptr : std::memchr(begin, 0, size);  // an empty header may have no buffer
    BABYGPT_CHECK(nul == nullptr, "safetensors: ", source, ": the header is not valid UTF-8 JSON (NUL byte at header ",
                  "offset ", static_cast<const unsigned char*>(nul) - begin, "; the padding must be spaces)");
    HeaderChecker checker(source);
    try {
        Json::sax_parse(begin, begin + size, &checker);
        return Json::parse(begin, begin + size);
    } catch (const Json::exception& e) {
        ::babygpt::detail::throw_error("safetensors: ", source, ": the header is not valid UTF-8 JSON (",
                                       json_error_reason(e.what()), ")");
    }
}

inline std::map<std::string, std::string> parse_metadata(const Json& value, const std::string& source) {
    BABYGPT_CHECK(value.is_object(), "safetensors: ", source, ": \"__metadata__\" must be an object of strings, got ",
                  value.type_name());
    std::map<std::string, std::string> metadata;
    for (const auto& [key, item] : value.items()) {
        BABYGPT_CHECK(item.is_string(), "safetensors: ", source, ": \"__metadata__\" value for ", quote_name(key),
                      " must be a string, got ", item.type_name());
        metadata[key] = item.get<std::string>();
    }
    return metadata;
}

/// `value` as JSON text for a message, cut short if long. Scalars are shown (a string cut to 60 bytes
/// before it is formatted); an array shows its first few items, and anything nested inside them as
/// [...] or {...}, so the work and the text are bounded whatever the value holds.
inline std::string brief(const Json& value, bool nested = false) {
    std::string text;
    if (value.is_array()) {
        if (nested) return "[...]";
        text = "[";
        std::size_t shown = 0;
        for (const Json& item : value) {
            if (shown == 4) {
                text += ",...";
                break;
            }
            text += (shown++ ? "," : "") + brief(item, true);
        }
        return text + "]";
    }
    if (value.is_object()) return value.empty() ? "{}" : "{...}";
    if (value.is_string()) {
        const std::string& s = value.get_ref<const std::string&>();
        text = Json(s.substr(0, 60)).dump(-1, ' ', true, Json::error_handler_t::replace);
        if (s.size() > 60) text.insert(text.size() - 1, "...");
        return printable(text);
    }
    return printable(value.dump());
}

/// A JSON number that is a non-negative integer, or nothing (floats, negatives and non-numbers).
inline std::optional<std::uint64_t> non_negative_integer(const Json& value) {
    if (value.is_number_unsigned()) return value.get<std::uint64_t>();
    if (value.is_number_integer() && value.get<std::int64_t>() >= 0)
        return static_cast<std::uint64_t>(value.get<std::int64_t>());
    return std::nullopt;
}

/// One header entry, checked on its own (the tiling is checked across entries afterwards).
struct EntryInfo {
    std::string name;
    DType dtype;
    Shape shape;
    std::uint64_t begin;
    std::uint64_t end;
};

inline const Json& field(const Json& entry, const char* key, const std::string& what) {
    const auto it = entry.find(key);
    BABYGPT_CHECK(it != entry.end(), what, ": the \"", key,
                  "\" field is missing (expected \"dtype\", \"shape\" and \"data_offsets\")");
    return *it;
}

inline DType parse_dtype(const Json& value, const std::string& what) {
    BABYGPT_CHECK(value.is_string(), what, ": \"dtype\" must be a string, got ", brief(value));
    const auto dtype = dtype_from_name(value.get<std::string>());
    BABYGPT_CHECK(dtype.has_value(), what, ": unknown dtype ", brief(value), " (expected one of ", dtype_names(), ")");
    return *dtype;
}

inline Shape parse_shape(const Json& value, const std::string& what) {
    BABYGPT_CHECK(value.is_array(), what, ": \"shape\" must be an array of non-negative integers, got ",
                  value.type_name());
    Shape shape;
    for (const Json& d : value) {
        const auto dim = non_negative_integer(d);
        BABYGPT_CHECK(dim && *dim <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), what,
                      ": \"shape\" must hold non-negative integers, got ", brief(d));
        shape.push_back(static_cast<std::int64_t>(*dim));
    }
    return shape;
}

inline std::pair<std::uint64_t, std::uint64_t> parse_offsets(const Json& value, std::size_t data_size,
                                                             const std::string& what) {
    const bool pair = value.is_array() && value.size() == 2;
    const auto begin = pair ? non_negative_integer(value[0]) : std::nullopt;
    const auto end = pair ? non_negative_integer(value[1]) : std::nullopt;
    BABYGPT_CHECK(begin && end && *begin <= *end, what,
                  ": \"data_offsets\" must be [begin, end] with integers 0 <= begin <= end, got ", brief(value));
    BABYGPT_CHECK(*end <= data_size, what, ": data_offsets ", brief(value), " run past the end of the ", data_size,
                  "-byte data buffer; the file may be truncated");
    return {*begin, *end};
}

inline EntryInfo parse_entry(const std::string& name, const Json& value, std::size_t data_size,
                             const std::string& source) {
    const std::string what = "safetensors: " + source + ": tensor " + quote_name(name);
    BABYGPT_CHECK(value.is_object(), what, ": the entry must be an object with \"dtype\", \"shape\" and ",
                  "\"data_offsets\", got ", value.type_name());
    EntryInfo info{name, parse_dtype(field(value, "dtype", what), what), parse_shape(field(value, "shape", what), what),
                   0, 0};
    std::tie(info.begin, info.end) = parse_offsets(field(value, "data_offsets", what), data_size, what);
    const auto expected = checked_byte_count(info.dtype, info.shape);
    BABYGPT_CHECK(expected.has_value(), what, ": shape ", to_string(info.shape), " has too many elements");
    BABYGPT_CHECK(info.end - info.begin == *expected, what, ": data_offsets [", info.begin, ",", info.end, "] span ",
                  info.end - info.begin, " bytes, but shape ", to_string(info.shape), " of ", dtype_name(info.dtype),
                  " needs ", *expected);
    return info;
}

/// The tensors must cover [0, data_size) exactly once: sorted by offsets, each begins where the last ended.
inline void check_tiling(std::vector<EntryInfo>& infos, std::size_t data_size, const std::string& source) {
    std::sort(infos.begin(), infos.end(), [](const EntryInfo& a, const EntryInfo& b) {
        return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
    });
    std::uint64_t covered = 0;
    const EntryInfo* previous = nullptr;
    for (const EntryInfo& info : infos) {
        BABYGPT_CHECK(info.begin >= covered, "safetensors: ", source, ": tensor ", quote_name(info.name), " (bytes [",
                      info.begin, ",", info.end, ")) overlaps tensor ", quote_name(previous ? previous->name : ""),
                      " (bytes [", previous ? previous->begin : 0, ",", covered, "))");
        BABYGPT_CHECK(info.begin == covered, "safetensors: ", source, ": the data buffer has a hole: bytes [", covered,
                      ",", info.begin, ") belong to no tensor (the next tensor is ", quote_name(info.name), ")");
        covered = info.end;
        previous = &info;
    }
    BABYGPT_CHECK(covered == data_size, "safetensors: ", source, ": the data buffer has ", data_size - covered,
                  " trailing bytes after the last tensor (the tensors cover ", covered, " of ", data_size, " bytes)");
}

// ---- writing -----------------------------------------------------------------------------------------

/// Throws if `text` is not valid UTF-8 (JSON strings must be).
inline void check_utf8(const std::string& text, const std::string& what) {
    try {
        (void)Json(text).dump();
    } catch (const Json::exception&) {
        ::babygpt::detail::throw_error("safetensors::serialize: ", what, " is not valid UTF-8");
    }
}

inline std::string header_json(const Contents& contents) {
    OrderedJson header = OrderedJson::object();
    if (!contents.metadata.empty()) {
        OrderedJson metadata = OrderedJson::object();
        for (const auto& [key, value] : contents.metadata) {
            check_utf8(key, "metadata key " + quote_name(key));
            check_utf8(value, "the metadata value for " + quote_name(key));
            metadata[key] = value;
        }
        header[metadata_key] = std::move(metadata);
    }
    std::uint64_t offset = 0;
    for (const auto& [name, entry] : contents.tensors) {
        const std::string what = "safetensors::serialize: tensor " + quote_name(name);
        BABYGPT_CHECK(name != metadata_key, what, ": the name \"__metadata__\" is reserved for the metadata map");
        check_utf8(name, "tensor name " + quote_name(name));
        const std::size_t bytes = expected_bytes(entry, what);
        BABYGPT_CHECK(entry.data.size() == bytes, what, ": holds ", entry.data.size(), " bytes, but shape ",
                      to_string(entry.shape), " of ", dtype_name(entry.dtype), " needs ", bytes);
        OrderedJson item = OrderedJson::object();
        item["dtype"] = dtype_name(entry.dtype);
        item["shape"] = entry.shape;
        item["data_offsets"] = {offset, offset + bytes};
        header[name] = std::move(item);
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    BABYGPT_CHECK(text.size() <= max_header_size, "safetensors::serialize: the header would be ", text.size(),
                  " bytes, over the ", max_header_size, "-byte limit readers enforce (too many tensors or metadata)");
    return text;
}

// ---- files -------------------------------------------------------------------------------------------

inline std::string errno_text() { return std::strerror(errno); }

#ifdef _WIN32
inline int open_exclusive(const std::string& path) {
    return ::_open(path.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
}
inline long write_some(int fd, const unsigned char* bytes, std::size_t n) {
    return ::_write(fd, bytes, static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30)));
}
inline bool sync_file(int fd) { return ::_commit(fd) == 0; }
inline bool close_file(int fd) { return ::_close(fd) == 0; }
inline long process_id() { return ::_getpid(); }
/// Renames `from` over `to`; on failure, returns why.
inline std::optional<std::string> replace_file(const std::string& from, const std::string& to) {
    const DWORD flags = MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH;
    if (::MoveFileExA(from.c_str(), to.c_str(), flags)) return std::nullopt;
    return "Windows error " + std::to_string(::GetLastError());
}
inline void sync_directory_of(const std::string&) {}
#else
inline int open_exclusive(const std::string& path) {
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
}
inline long write_some(int fd, const unsigned char* bytes, std::size_t n) {
    return static_cast<long>(::write(fd, bytes, n));
}
inline bool sync_file(int fd) { return ::fsync(fd) == 0; }
inline bool close_file(int fd) { return ::close(fd) == 0; }
inline long process_id() { return static_cast<long>(::getpid()); }
/// Renames `from` over `to`; on failure, returns why.
inline std::optional<std::string> replace_file(const std::string& from, const std::string& to) {
    if (std::rename(from.c_str(), to.c_str()) == 0) return std::nullopt;
    return errno_text();
}
/// Makes the rename itself durable; best effort (some file systems refuse to fsync a directory).
inline void sync_directory_of(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const int fd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    (void)::close(fd);
}
#endif

/// A name next to `path` that no other save (in this or another process) is using.
inline std::string temporary_name(const std::string& path) {
    static std::atomic<unsigned long> counter{0};
    return path + ".tmp." + std::to_string(process_id()) + "." + std::to_string(counter++);
}

/// Writes all `size` bytes at `bytes` to the open file and syncs it to disk; on failure, returns why.
inline std::optional<std::string> write_and_sync(int fd, const unsigned char* bytes, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const long n = write_some(fd, bytes + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return "write failed after " + std::to_string(done) + " of " + std::to_string(size) +
                   " bytes: " + (n < 0 ? errno_text() : std::string("no progress"));
        done += static_cast<std::size_t>(n);
    }
    if (!sync_file(fd)) return "fsync failed: " + errno_text();
    return std::nullopt;
}

/// Why write_file_atomically() failed.
struct WriteFailure {
    std::string reason;  // for the caller's message
    bool created;        // false: the temporary file could not even be created (directory missing or read-only)
};

/// Writes `size` bytes at `bytes` to `path` atomically: into a new temporary file next to it (see
/// temporary_name), synced to disk, then renamed over `path`, and the rename synced as far as the file
/// system allows. On failure the temporary is removed, `path` is left as it was, and the result says why.
/// io::write_file_atomically() is the public form, which throws instead.
inline std::optional<WriteFailure> write_file_atomically(const std::string& path, const unsigned char* bytes,
                                                         std::size_t size) {
    const std::string temporary = temporary_name(path);
    const int fd = open_exclusive(temporary);
    if (fd < 0) return WriteFailure{"cannot create " + quote_path(temporary) + ": " + errno_text(), false};
    std::optional<std::string> failure = write_and_sync(fd, bytes, size);
    if (!close_file(fd) && !failure) failure = "close failed: " + errno_text();
    if (failure) {
        std::remove(temporary.c_str());
        return WriteFailure{*failure + " (writing " + quote_path(temporary) + ")", true};
    }
    if (const auto rename_failure = replace_file(temporary, path)) {
        std::remove(temporary.c_str());
        return WriteFailure{"cannot rename " + quote_path(temporary) + " over it: " + *rename_failure, true};
    }
    sync_directory_of(path);
    return std::nullopt;
}

/// write_file_atomically(), throwing babygpt::Error "<what>: cannot write '<path>' (<why>); the existing
/// file, if any, is unchanged" on failure.
inline void write_file_atomically_or_throw(const std::string& path, const unsigned char* bytes, std::size_t size,
                                           const char* what) {
    const auto failure = write_file_atomically(path, bytes, size);
    BABYGPT_CHECK(!failure, what, ": cannot write ", quote_path(path), " (", failure->reason,
                  "); the existing file, if any, is unchanged");
}

}  // namespace detail

// ---- reading and writing -----------------------------------------------------------------------------

namespace detail {

/// A validated header: the metadata, and every tensor's entry sorted by its offsets (the data's order).
struct Header {
    std::map<std::string, std::string> metadata;
    std::vector<EntryInfo> infos;
};

/// Parses and validates the header text for a data buffer of `data_size` bytes.
inline Header parse_header(const unsigned char* text, std::size_t size, std::size_t data_size,
                           const std::string& source) {
    const Json json = parse_json(text, size, source);
    BABYGPT_CHECK(json.is_object(), "safetensors: ", source, ": the header must be a JSON object, got ",
                  json.type_name());
    Header header;
    for (const auto& [name, value] : json.items()) {
        if (name == metadata_key) header.metadata = parse_metadata(value, source);
        else header.infos.push_back(parse_entry(name, value, data_size, source));
    }
    check_tiling(header.infos, data_size, source);
    return header;
}

/// Makes room for `bytes` bytes of a tensor's data, as a babygpt::Error when memory runs out.
inline void resize_data(Entry& entry, std::size_t bytes, const EntryInfo& info, const std::string& source) {
    try {
        entry.data.resize(bytes);
    } catch (const std::bad_alloc&) {
        ::babygpt::detail::throw_error("safetensors: ", source, ": out of memory reading tensor ",
                                       quote_name(info.name), " (", bytes, " bytes)");
    }
}

}  // namespace detail

/// Parses a whole safetensors file held in memory; `source` names it in error messages. Throws
/// babygpt::Error (naming the source, the tensor and what was expected) on any malformed input, and
/// never reads outside [bytes, bytes + size).
inline Contents parse(const unsigned char* bytes, std::size_t size, const std::string& source) {
    const detail::Layout layout = detail::read_layout(bytes, size, source);
    const std::size_t data_size = size - layout.data_begin;
    detail::Header header = detail::parse_header(bytes + 8, layout.header_size, data_size, source);
    Contents contents;
    contents.metadata = std::move(header.metadata);
    const unsigned char* data = bytes + layout.data_begin;
    for (const detail::EntryInfo& info : header.infos) {
        Entry& entry = contents.tensors[info.name];
        entry.dtype = info.dtype;
        entry.shape = info.shape;
        detail::resize_data(entry, static_cast<std::size_t>(info.end - info.begin), info, source);
        std::copy(data + info.begin, data + info.end, entry.data.begin());
    }
    return contents;
}

inline Contents parse(const std::vector<unsigned char>& bytes, const std::string& source) {
    return parse(bytes.data(), bytes.size(), source);
}

/// Reads and parses the file at `path`. Only a regular file is read (a directory, FIFO or device is
/// refused at once), and in steps that never trust what is not yet checked: the 8-byte header size
/// (against the file's size), then the header (validated whole), then exactly the tensors it declares,
/// which tile the rest of the file. A missing, unreadable or malformed file throws naming the path.
inline Contents load(const std::string& path) {
    babygpt::detail::RegularFile file(path, "safetensors::load");
    if (file.size() > std::numeric_limits<std::size_t>::max())
        file.fail(": the file is too large to read on this system");
    const auto size = static_cast<std::size_t>(file.size());
    unsigned char prefix[8] = {};
    file.read_exactly(prefix, std::min<std::size_t>(size, 8));
    const detail::Layout layout = detail::read_layout(prefix, size, path);
    std::vector<unsigned char> text(layout.header_size);
    file.read_exactly(text.data(), text.size());
    detail::Header header = detail::parse_header(text.data(), text.size(), size - layout.data_begin, path);
    Contents contents;
    contents.metadata = std::move(header.metadata);
    for (const detail::EntryInfo& info : header.infos) {  // in file order: the tiling check sorted them
        Entry& entry = contents.tensors[info.name];
        entry.dtype = info.dtype;
        entry.shape = info.shape;
        detail::resize_data(entry, static_cast<std::size_t>(info.end - info.begin), info, path);
        file.read_exactly(entry.data.data(), entry.data.size());
    }
    return contents;
}

/// The file's bytes: length prefix, space-padded header, then the tensors' bytes in name order.
inline std::vector<unsigned char> serialize(const Contents& contents) {
    const std::string header = detail::header_json(contents);
    std::size_t total = 8 + header.size();
    for (const auto& item : contents.tensors) total += item.second.data.size();
    std::vector<unsigned char> bytes(8);
    bytes.reserve(total);
    detail::store_le<std::uint64_t>(header.size(), bytes.data());
    bytes.insert(bytes.end(), header.begin(), header.end());
    for (const auto& item : contents.tensors)
        bytes.insert(bytes.end(), item.second.data.begin(), item.second.data.end());
    return bytes;
}

/// Writes `contents` to `path` atomically: into a temporary file next to it, synced to disk, then
/// renamed over `path`. On failure the temporary is removed, `path` is left as it was, and the Error
/// names the path.
inline void save(const std::string& path, const Contents& contents) {
    const std::vector<unsigned char> bytes = serialize(contents);
    detail::write_file_atomically_or_throw(path, bytes.data(), bytes.size(), "safetensors::save");
}

// ---- tensors -----------------------------------------------------------------------------------------

/// A tensor's values as an Entry: float -> F32, double -> F64, std::int64_t -> I64.
template <typename T>
Entry from_tensor(const Tensor<T>& tensor) {
    Entry entry;
    entry.dtype = dtype_of<T>();
    entry.shape = tensor.shape();
    const auto n = static_cast<std::size_t>(tensor.numel());
    entry.data.resize(n * sizeof(T));
    const T* values = tensor.data();
    for (std::size_t i = 0; i < n; ++i) detail::write_element(values[i], entry.data.data(), i);
    return entry;
}

/// An Entry's values as a new Tensor<T>: F32 or F64 into float or double (either way; doubles too
/// large for a float become +-inf), I64 into std::int64_t. Any other pairing throws naming the tensor
/// `name` and its dtype.
template <typename T>
Tensor<T> to_tensor(const Entry& entry, const std::string& name) {
    constexpr bool floating = std::is_floating_point_v<T>;
    const std::string what = "safetensors::to_tensor: tensor " + detail::quote_name(name);
    (void)dtype_of<T>();  // rejects unsupported element types at compile time
    const bool ok = floating ? (entry.dtype == DType::F32 || entry.dtype == DType::F64) : entry.dtype == DType::I64;
    const char* element = floating ? (std::is_same_v<T, float> ? "float" : "double") : "std::int64_t";
    BABYGPT_CHECK(ok, what, " has dtype ", dtype_name(entry.dtype), ", which cannot be read into a Tensor<", element,
                  "> (F32 and F64 load as float or double, I64 as std::int64_t; convert the tensor before saving)");
    const std::size_t bytes = detail::expected_bytes(entry, what);
    BABYGPT_CHECK(entry.data.size() == bytes, what, ": holds ", entry.data.size(), " bytes, but shape ",
                  to_string(entry.shape), " of ", dtype_name(entry.dtype), " needs ", bytes);
    Tensor<T> tensor = Tensor<T>::empty(entry.shape);
    T* out = tensor.data();
    const unsigned char* in = entry.data.data();
    const auto n = static_cast<std::size_t>(tensor.numel());
    for (std::size_t i = 0; i < n; ++i) out[i] = detail::read_element<T>(entry.dtype, in, i);
    return tensor;
}

/// The tensor called `name` in `contents`, converted as to_tensor does; throws if there is none.
template <typename T>
Tensor<T> get(const Contents& contents, const std::string& name) {
    const auto it = contents.tensors.find(name);
    if (it == contents.tensors.end()) {
        std::string names;
        std::size_t shown = 0;
        for (const auto& item : contents.tensors) {
            if (shown++ == 8) { names += ", ..."; break; }
            names += (names.empty() ? "" : ", ") + detail::quote_name(item.first);
        }
        ::babygpt::detail::throw_error("safetensors::get: no tensor named ", detail::quote_name(name), " (there are ",
                                       contents.tensors.size(), ": ", names.empty() ? "none" : names, ")");
    }
    return to_tensor<T>(it->second, name);
}

}  // namespace babygpt::safetensors

namespace babygpt::io {

// ---- writing any file atomically -----------------------------------------------------------------------

/// Writes `size` bytes at `bytes` to `path`, replacing any file there, atomically: the bytes go to a new
/// temporary file next to `path` ("<path>.tmp.<pid>.<n>", on the same file system), which is synced to
/// disk (fsync) and closed, then renamed over `path`, and the rename itself is synced as far as the file
/// system allows. Whoever reads `path`, even after a crash or a kill at any moment, finds either the old
/// file or the whole new one, never a partial file. On failure the temporary is removed, `path` is left
/// as it was, and babygpt::Error names `path` and the cause (the directory is missing or read-only, the
/// disk is full, `path` is a directory, ...). On POSIX systems the new file has permissions 0644 (less the
/// umask), whatever the old one had. safetensors::save() writes its files this way.
///
///     babygpt::io::write_file_atomically("losses.csv", "step,loss\n0,4.17\n");
inline void write_file_atomically(const std::string& path, const unsigned char* bytes, std::size_t size) {
    safetensors::detail::write_file_atomically_or_throw(path, bytes, size, "io::write_file_atomically");
}

/// The same for text (any bytes: the string is written as it is).
inline void write_file_atomically(const std::string& path, std::string_view text) {
    write_file_atomically(path, reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

}  // namespace babygpt::io
