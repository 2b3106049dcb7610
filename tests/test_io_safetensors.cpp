// Tests for babygpt/io/safetensors.hpp: round trips, a byte-exact file built by hand from the format
// specification, every malformed-file check, a mutation loop over a valid file, and atomic saving.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#ifndef _WIN32
#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "babygpt/io/safetensors.hpp"
#include "babygpt/tensor.hpp"

#include "helpers.hpp"

namespace {

namespace st = babygpt::safetensors;
namespace fs = std::filesystem;
using babygpt::IndexTensor;
using babygpt::Tensord;
using babygpt::Tensorf;
using Bytes = std::vector<unsigned char>;
using babygpt_test::contains;
using babygpt_test::safetensors_file;
using babygpt_test::error_of;

/// Checks that an error message contains `part`, printing both if it does not.
#define CHECK_ERROR_CONTAINS(message, part)                                                \
    CHECK_MESSAGE(contains(message, part),                                                 \
                  "error message: \"" << (message) << "\"\nexpected to contain: \"" << (part) << "\"")

/// The error message from parsing a file with this header and data, under the source name "bad.st".
std::string parse_error(const std::string& header, const Bytes& data = {}) {
    const Bytes file = safetensors_file(header, data);
    return error_of([&] { st::parse(file, "bad.st"); });
}

std::string tensor_json(const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

template <typename T>
bool same_bits(const T& a, const T& b) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <typename T>
void check_same_tensor(const babygpt::Tensor<T>& a, const babygpt::Tensor<T>& b) {
    REQUIRE(a.shape() == b.shape());
    for (std::int64_t i = 0; i < a.numel(); ++i) CHECK(same_bits(a.data()[i], b.data()[i]));
}

void check_same_contents(const st::Contents& a, const st::Contents& b) {
    CHECK(a.metadata == b.metadata);
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (const auto& item : a.tensors) {
        const std::string& name = item.first;
        const st::Entry& entry = item.second;
        CAPTURE(name);
        const auto it = b.tensors.find(name);
        REQUIRE(it != b.tensors.end());
        CHECK(entry.dtype == it->second.dtype);
        CHECK(entry.shape == it->second.shape);
        CHECK(entry.data == it->second.data);
    }
}

/// A small file with metadata and tensors of several dtypes, for the mutation tests.
st::Contents sample_contents() {
    st::Contents c;
    c.metadata["format"] = "pt";
    c.metadata["note"] = "h\xC3\xA9llo \"q\"";
    c.tensors["w"] = st::from_tensor(Tensorf::from_data({2, 3}, {1, 2, 3, 4, 5, 6}));
    c.tensors["idx"] = st::from_tensor(IndexTensor::from_data({3}, {7, -1, 0}));
    c.tensors["half"] = st::Entry{st::DType::F16, {2}, {0x00, 0x3C, 0x00, 0xC0}};
    c.tensors["empty"] = st::from_tensor(Tensord::zeros({0, 4}));
    return c;
}

/// A fresh directory under the system temporary directory, removed (with its contents) at the end.
struct TempDir {
    fs::path path;
    TempDir() {
        static int counter = 0;
        const fs::path base = fs::temp_directory_path();
        for (;;) {
            path = base / ("babygpt_safetensors_test_" + std::to_string(std::rand()) + "_" + std::to_string(counter++));
            if (fs::create_directory(path)) break;
        }
    }
    ~TempDir() {
        std::error_code ignored;
#ifndef _WIN32
        ::chmod(path.c_str(), 0700);
#endif
        fs::remove_all(path, ignored);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
    /// Names in the directory that look like save()'s temporary files.
    std::vector<std::string> temporaries() const {
        std::vector<std::string> found;
        for (const auto& item : fs::directory_iterator(path))
            if (contains(item.path().filename().string(), ".tmp.")) found.push_back(item.path().string());
        return found;
    }
};

Bytes read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

// ---- dtypes ------------------------------------------------------------------------------------------

TEST_CASE("safetensors: dtype names and sizes") {
    CHECK(std::string(st::dtype_name(st::DType::F32)) == "F32");
    CHECK(std::string(st::dtype_name(st::DType::BF16)) == "BF16");
    CHECK(st::dtype_size(st::DType::F64) == 8);
    CHECK(st::dtype_size(st::DType::I64) == 8);
    CHECK(st::dtype_size(st::DType::F16) == 2);
    CHECK(st::dtype_size(st::DType::BOOL) == 1);
    CHECK(st::dtype_from_name("I32") == st::DType::I32);
    CHECK(st::dtype_from_name("U8") == st::DType::U8);
    CHECK_FALSE(st::dtype_from_name("f32").has_value());
    CHECK_FALSE(st::dtype_from_name("").has_value());
    CHECK(st::dtype_of<float>() == st::DType::F32);
    CHECK(st::dtype_of<double>() == st::DType::F64);
    CHECK(st::dtype_of<std::int64_t>() == st::DType::I64);
}

// ---- the writer against the specification ----------------------------------------------------------

TEST_CASE("safetensors: serialize produces the bytes the specification prescribes") {
    st::Contents c;
    c.metadata["k"] = "v";
    c.tensors["a"] = st::from_tensor(Tensorf::from_data({2}, {1.0f, -2.0f}));
    c.tensors["b"] = st::from_tensor(IndexTensor::scalar(-2));
    c.tensors["c"] = st::from_tensor(Tensord::from_data({1, 1}, {0.5}));

    std::string header = "{\"__metadata__\":{\"k\":\"v\"},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]},"
                         "\"c\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[16,24]}}";
    while (header.size() % 8 != 0) header += ' ';
    const Bytes data = {
        0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0,  // 1.0f, -2.0f (IEEE-754 binary32, little-endian)
        0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // -2 as a two's complement int64
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xE0, 0x3F,  // 0.5 (IEEE-754 binary64)
    };
    const Bytes expected = safetensors_file(header, data);
    const Bytes actual = st::serialize(c);
    CHECK(actual.size() == expected.size());
    CHECK(actual == expected);
    CHECK((actual.size() - data.size()) % 8 == 0);  // the data buffer starts 8-byte aligned

    const st::Contents back = st::parse(expected, "hand-built");
    check_same_contents(c, back);
    CHECK(st::to_tensor<float>(back.tensors.at("a"), "a").to_vector() == std::vector<float>{1.0f, -2.0f});
    CHECK(st::to_tensor<std::int64_t>(back.tensors.at("b"), "b").item() == -2);
    CHECK(st::to_tensor<double>(back.tensors.at("c"), "c").item() == 0.5);
}

TEST_CASE("safetensors: an empty file is an 8-byte length and a padded {}") {
    const Bytes expected = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    CHECK(st::serialize(st::Contents{}) == expected);
    const st::Contents back = st::parse(expected, "empty");
    CHECK(back.tensors.empty());
    CHECK(back.metadata.empty());
}

TEST_CASE("safetensors: parse accepts valid variations the writer does not produce") {
    SUBCASE("no padding, entries out of offset order, unknown fields ignored") {
        const std::string header = "{\"second\":" + tensor_json("U8", "[2]", "[2,4]") + ",\"first\":" +
                                   "{\"shape\":[2],\"extra\":[1,{}],\"data_offsets\":[0,2],\"dtype\":\"I8\"}}";
        const st::Contents c = st::parse(safetensors_file(header, {1, 2, 3, 4}), "variant");
        CHECK(c.tensors.at("first").data == Bytes{1, 2});
        CHECK(c.tensors.at("first").dtype == st::DType::I8);
        CHECK(c.tensors.at("second").data == Bytes{3, 4});
    }
    SUBCASE("zero-size tensors, several at the same offset, and a zero dimension before huge ones") {
        const std::string header = "{\"a\":" + tensor_json("F32", "[0]", "[0,0]") +
                                   ",\"b\":" + tensor_json("F64", "[0,3]", "[0,0]") +
                                   ",\"c\":" + tensor_json("I64", "[0,4611686018427387904,4]", "[0,0]") +
                                   ",\"d\":" + tensor_json("U8", "[1]", "[0,1]") + "}";
        const st::Contents c = st::parse(safetensors_file(header, {9}), "zeros");
        CHECK(c.tensors.size() == 4);
        CHECK(st::to_tensor<std::int64_t>(c.tensors.at("c"), "c").numel() == 0);
    }
    SUBCASE("whitespace around the JSON and an empty metadata object") {
        const st::Contents c = st::parse(safetensors_file(" \n{ \"__metadata__\" : { } }\t  "), "ws");
        CHECK(c.tensors.empty());
        CHECK(c.metadata.empty());
    }
}

// ---- round trips -----------------------------------------------------------------------------------

TEST_CASE("safetensors: F32, F64 and I64 tensors round trip bit-exactly, 0-d to 4-d, with metadata") {
    babygpt::Generator gen(42);
    const Tensorf x4 = Tensorf::randn({2, 3, 4, 5}, gen);
    const Tensord scalar = Tensord::scalar(-3.25);
    const IndexTensor ids = IndexTensor::from_data(
        {2, 3}, {0, -1, 42, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(), 7});
    const float inf = std::numeric_limits<float>::infinity();
    const Tensorf special = Tensorf::from_data(
        {6}, {std::numeric_limits<float>::quiet_NaN(), inf, -inf, -0.0f, std::numeric_limits<float>::denorm_min(),
              std::numeric_limits<float>::max()});
    const Tensord empty = Tensord::zeros({3, 0, 2});

    st::Contents c;
    c.tensors["blocks.0.attn.weight"] = st::from_tensor(x4);
    c.tensors["scale"] = st::from_tensor(scalar);
    c.tensors["ids"] = st::from_tensor(ids);
    c.tensors["special"] = st::from_tensor(special);
    c.tensors["empty"] = st::from_tensor(empty);
    c.tensors["caf\xC3\xA9 \xE2\x9C\x93"] = st::from_tensor(Tensorf::ones({1}));
    c.metadata["n_layer"] = "2";
    c.metadata["quote \" backslash \\ newline \n"] = "tab\t unicode \xE2\x82\xAC";
    c.metadata["empty"] = "";

    auto check = [&](const st::Contents& back) {
        check_same_contents(c, back);
        check_same_tensor(x4, st::get<float>(back, "blocks.0.attn.weight"));
        check_same_tensor(scalar, st::get<double>(back, "scale"));
        CHECK(st::get<double>(back, "scale").dim() == 0);
        check_same_tensor(ids, st::get<std::int64_t>(back, "ids"));
        check_same_tensor(special, st::get<float>(back, "special"));
        check_same_tensor(empty, st::get<double>(back, "empty"));
    };

    SUBCASE("in memory") { check(st::parse(st::serialize(c), "memory")); }
    SUBCASE("through a file") {
        TempDir dir;
        const std::string path = dir.file("model.safetensors");
        st::save(path, c);
        CHECK(read_all(path) == st::serialize(c));
        check(st::load(path));
        CHECK(dir.temporaries().empty());
    }
}

TEST_CASE("safetensors: to_tensor converts F32 and F64 either way and rejects other pairings") {
    const st::Entry f32 = st::from_tensor(Tensorf::from_data({3}, {0.1f, -2.5f, 3e38f}));
    const st::Entry f64 = st::from_tensor(Tensord::from_data({4}, {0.1, -2.5, 1e300, -1e300}));
    const st::Entry i64 = st::from_tensor(IndexTensor::from_data({2}, {1, 2}));

    const Tensord widened = st::to_tensor<double>(f32, "f32");
    CHECK(widened.data()[0] == static_cast<double>(0.1f));
    CHECK(widened.data()[2] == static_cast<double>(3e38f));
    const Tensorf narrowed = st::to_tensor<float>(f64, "f64");
    CHECK(narrowed.data()[0] == 0.1f);
    CHECK(narrowed.data()[1] == -2.5f);
    CHECK(narrowed.data()[2] == std::numeric_limits<float>::infinity());
    CHECK(narrowed.data()[3] == -std::numeric_limits<float>::infinity());

    std::string m = error_of([&] { st::to_tensor<float>(i64, "tok_ids"); });
    CHECK_ERROR_CONTAINS(m, "'tok_ids'");
    CHECK_ERROR_CONTAINS(m, "dtype I64");
    m = error_of([&] { st::to_tensor<std::int64_t>(f32, "weights"); });
    CHECK_ERROR_CONTAINS(m, "'weights'");
    CHECK_ERROR_CONTAINS(m, "dtype F32");
    for (st::DType dtype : {st::DType::F16, st::DType::BF16, st::DType::I32, st::DType::U8, st::DType::BOOL}) {
        const st::Entry other{dtype, {1}, Bytes(st::dtype_size(dtype), 0)};
        m = error_of([&] { st::to_tensor<float>(other, "h"); });
        CHECK_ERROR_CONTAINS(m, std::string("dtype ") + st::dtype_name(dtype));
    }
    const st::Entry short_entry{st::DType::F32, {2}, Bytes(7, 0)};
    CHECK_ERROR_CONTAINS(error_of([&] { st::to_tensor<float>(short_entry, "s"); }), "holds 7 bytes");
    const st::Entry huge_entry{st::DType::F32, {std::int64_t(1) << 62, 8}, {}};
    CHECK_ERROR_CONTAINS(error_of([&] { st::to_tensor<float>(huge_entry, "big"); }), "too many elements");
}

TEST_CASE("safetensors: get names the missing tensor and lists what is there") {
    const st::Contents c = sample_contents();
    const std::string m = error_of([&] { st::get<float>(c, "wte"); });
    CHECK_ERROR_CONTAINS(m, "no tensor named 'wte'");
    CHECK_ERROR_CONTAINS(m, "'idx'");
}

TEST_CASE("safetensors: serialize rejects contents it cannot write") {
    st::Contents c;
    c.tensors["__metadata__"] = st::from_tensor(Tensorf::ones({1}));
    CHECK_ERROR_CONTAINS(error_of([&] { st::serialize(c); }), "reserved");

    c = st::Contents{};
    c.tensors["w"] = st::Entry{st::DType::F32, {2, 2}, Bytes(12, 0)};
    std::string m = error_of([&] { st::serialize(c); });
    CHECK_ERROR_CONTAINS(m, "'w'");
    CHECK_ERROR_CONTAINS(m, "holds 12 bytes");
    CHECK_ERROR_CONTAINS(m, "needs 16");

    c.tensors["w"] = st::Entry{st::DType::F32, {-1}, {}};
    CHECK_ERROR_CONTAINS(error_of([&] { st::serialize(c); }), "negative dimension");

    c = st::Contents{};
    c.tensors["bad\xFFname"] = st::from_tensor(Tensorf::ones({1}));
    CHECK_ERROR_CONTAINS(error_of([&] { st::serialize(c); }), "not valid UTF-8");

    c = st::Contents{};
    c.metadata["k"] = "\xC3";
    CHECK_ERROR_CONTAINS(error_of([&] { st::serialize(c); }), "not valid UTF-8");
}

// ---- malformed files -------------------------------------------------------------------------------

TEST_CASE("safetensors: a file shorter than 8 bytes or with a bad header length is refused") {
    for (std::size_t n = 0; n < 8; ++n) {
        CAPTURE(n);
        const Bytes bytes(n, 0);
        const std::string m = error_of([&] { st::parse(bytes.data(), bytes.size(), "tiny.st"); });
        CHECK_ERROR_CONTAINS(m, "tiny.st");
        CHECK_ERROR_CONTAINS(m, "shorter than the 8-byte header size");
    }
    Bytes too_long = safetensors_file("{}");
    too_long[0] = 100;
    std::string m = error_of([&] { st::parse(too_long, "trunc.st"); });
    CHECK_ERROR_CONTAINS(m, "trunc.st");
    CHECK_ERROR_CONTAINS(m, "header size 100 runs past the end of the file");

    Bytes huge = safetensors_file("{}");
    for (int i = 0; i < 8; ++i) huge[static_cast<std::size_t>(i)] = 0xFF;
    m = error_of([&] { st::parse(huge, "huge.st"); });
    CHECK_ERROR_CONTAINS(m, "header size 18446744073709551615 exceeds the limit");

    Bytes over_cap = safetensors_file("{}");
    const std::uint64_t cap = st::max_header_size + 1;
    for (int i = 0; i < 8; ++i) over_cap[static_cast<std::size_t>(i)] = static_cast<unsigned char>(cap >> (8 * i));
    CHECK_ERROR_CONTAINS(error_of([&] { st::parse(over_cap, "cap.st"); }), "exceeds the limit");

    const Bytes zero_length = safetensors_file("");
    CHECK_ERROR_CONTAINS(error_of([&] { st::parse(zero_length, "zero.st"); }), "not valid UTF-8 JSON");
}

TEST_CASE("safetensors: malformed headers are refused with a message naming the file and the problem") {
    struct Case {
        std::string what;
        std::string header;
        Bytes data;
        std::string expected;
    };
    const std::string f32x2 = tensor_json("F32", "[2]", "[0,8]");
    const Bytes eight(8, 0);
    const std::vector<Case> cases = {
        {"not JSON", "{not json", {}, "not valid UTF-8 JSON"},
        {"trailing garbage", "{} x", {}, "not valid UTF-8 JSON"},
        {"NUL padding", std::string("{}\0\0", 4), {}, "NUL byte at header offset 2"},
        {"NUL in a string", std::string("{\"__metadata__\":{\"k\":\"a\0b\"}}", 28), {}, "NUL byte"},
        {"invalid UTF-8 in a key", "{\"a\xFF\":" + f32x2 + "}", eight, "not valid UTF-8 JSON"},
        {"invalid UTF-8 is escaped in the message", "{\"a\xFF\":" + f32x2 + "}", eight, "'\"a\\xff'"},
        {"control character in a name", "{\"a\\nb\":5}", {}, "tensor 'a\\x0ab': the entry must be an object"},
        {"overlong UTF-8", "{\"__metadata__\":{\"k\":\"\xC0\x80\"}}", {}, "not valid UTF-8 JSON"},
        {"array header", "[1,2]", {}, "must be a JSON object, got array"},
        {"string header", "\"x\"", {}, "must be a JSON object, got string"},
        {"entry not an object", "{\"a\":5}", {}, "tensor 'a': the entry must be an object"},
        {"missing dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", eight,
         "tensor 'a': the \"dtype\" field is missing"},
        {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", eight,
         "the \"shape\" field is missing"},
        {"missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight,
         "the \"data_offsets\" field is missing"},
        {"dtype not a string", "{\"a\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", eight,
         "\"dtype\" must be a string, got 32"},
        {"unknown dtype", "{\"a\":" + tensor_json("F17", "[2]", "[0,8]") + "}", eight, "unknown dtype \"F17\""},
        {"lower-case dtype", "{\"a\":" + tensor_json("f32", "[2]", "[0,8]") + "}", eight, "unknown dtype \"f32\""},
        {"shape not an array", "{\"a\":" + tensor_json("F32", "2", "[0,8]") + "}", eight,
         "\"shape\" must be an array"},
        {"negative dimension", "{\"a\":" + tensor_json("F32", "[-2]", "[0,8]") + "}", eight, "got -2"},
        {"fractional dimension", "{\"a\":" + tensor_json("F32", "[1.5]", "[0,8]") + "}", eight, "got 1.5"},
        {"float dimension", "{\"a\":" + tensor_json("F32", "[2.0]", "[0,8]") + "}", eight, "got 2.0"},
        {"string dimension", "{\"a\":" + tensor_json("F32", "[\"2\"]", "[0,8]") + "}", eight, "got \"2\""},
        {"dimension above int64", "{\"a\":" + tensor_json("U8", "[9223372036854775808]", "[0,8]") + "}", eight,
         "got 9223372036854775808"},
        {"offsets not an array", "{\"a\":" + tensor_json("F32", "[2]", "8") + "}", eight,
         "\"data_offsets\" must be [begin, end]"},
        {"one offset", "{\"a\":" + tensor_json("F32", "[2]", "[8]") + "}", eight, "must be [begin, end]"},
        {"three offsets", "{\"a\":" + tensor_json("F32", "[2]", "[0,8,8]") + "}", eight, "got [0,8,8]"},
        {"negative offset", "{\"a\":" + tensor_json("F32", "[2]", "[-1,7]") + "}", eight, "got [-1,7]"},
        {"float offset", "{\"a\":" + tensor_json("F32", "[2]", "[0.0,8]") + "}", eight, "got [0.0,8]"},
        {"begin after end", "{\"a\":" + tensor_json("F32", "[2]", "[8,0]") + "}", eight, "got [8,0]"},
        {"end beyond the buffer", "{\"a\":" + f32x2 + "}", Bytes(4, 0),
         "tensor 'a': data_offsets [0,8] run past the end of the 4-byte data buffer"},
        {"end at uint64 max", "{\"a\":" + tensor_json("U8", "[2]", "[0,18446744073709551615]") + "}", eight,
         "run past the end"},
        {"size does not match the shape", "{\"a\":" + tensor_json("F32", "[3]", "[0,8]") + "}", eight,
         "tensor 'a': data_offsets [0,8] span 8 bytes, but shape (3,) of F32 needs 12"},
        {"element count overflows", "{\"a\":" + tensor_json("F32", "[4294967296,4294967296,4]", "[0,8]") + "}", eight,
         "too many elements"},
        {"running product overflows before a zero",
         "{\"a\":" + tensor_json("F32", "[4611686018427387904,4611686018427387904,0]", "[0,0]") + "}", {},
         "too many elements"},
        {"byte count overflows", "{\"a\":" + tensor_json("I64", "[2305843009213693952]", "[0,8]") + "}", eight,
         "too many elements"},
        {"overlap", "{\"a\":" + f32x2 + ",\"b\":" + tensor_json("F32", "[2]", "[4,12]") + "}", Bytes(12, 0),
         "tensor 'b' (bytes [4,12)) overlaps tensor 'a' (bytes [0,8))"},
        {"same range twice", "{\"a\":" + f32x2 + ",\"b\":" + f32x2 + "}", eight, "overlaps tensor 'a'"},
        {"zero-size tensor inside another",
         "{\"a\":" + f32x2 + ",\"z\":" + tensor_json("F32", "[0]", "[4,4]") + "}", eight, "overlaps"},
        {"hole between tensors", "{\"a\":" + tensor_json("F32", "[1]", "[0,4]") + ",\"b\":" +
         tensor_json("F32", "[1]", "[8,12]") + "}", Bytes(12, 0), "hole: bytes [4,8) belong to no tensor"},
        {"hole at the start", "{\"a\":" + tensor_json("F32", "[1]", "[4,8]") + "}", eight, "hole: bytes [0,4)"},
        {"trailing bytes", "{\"a\":" + tensor_json("F32", "[1]", "[0,4]") + "}", eight, "4 trailing bytes"},
        {"data but no tensors", "{}", Bytes(3, 0), "3 trailing bytes"},
        {"duplicate tensor", "{\"a\":" + f32x2 + ",\"a\":" + f32x2 + "}", eight,
         "the key 'a' twice at the top level"},
        {"duplicate field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}",
         eight, "the key 'dtype' twice inside entry 'a'"},
        {"duplicate metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", {}, "the key '__metadata__' twice"},
        {"duplicate metadata key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", {},
         "the key 'k' twice inside entry '__metadata__'"},
        {"metadata not an object", "{\"__metadata__\":[\"a\"]}", {}, "\"__metadata__\" must be an object of strings"},
        {"metadata null", "{\"__metadata__\":null}", {}, "must be an object of strings, got null"},
        {"metadata value not a string", "{\"__metadata__\":{\"n_layer\":2}}", {},
         "\"__metadata__\" value for 'n_layer' must be a string, got number"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        const std::string m = parse_error(c.header, c.data);
        CHECK_ERROR_CONTAINS(m, "safetensors: bad.st: ");
        CHECK_ERROR_CONTAINS(m, c.expected);
        const bool one_line =
            std::none_of(m.begin(), m.end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20; });
        CHECK_MESSAGE(one_line, m);
    }
}

TEST_CASE("safetensors: deeply nested JSON is refused without exhausting the stack") {
    const std::size_t depth = 20000;
    std::string header = std::string(depth, '[') + std::string(depth, ']');
    CHECK_ERROR_CONTAINS(parse_error(header), "must be a JSON object, got array");
    header = "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
    CHECK_ERROR_CONTAINS(parse_error(header), "more than 64 levels deep");
}

TEST_CASE("safetensors: every truncation of a valid file is refused") {
    const Bytes file = st::serialize(sample_contents());
    for (std::size_t n = 0; n < file.size(); ++n) {
        CAPTURE(n);
        // A copy of exactly n bytes, so reading past it is caught by the address sanitizer.
        const Bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
        const std::string m = error_of([&] { st::parse(prefix.data(), prefix.size(), "cut.st"); });
        CHECK_ERROR_CONTAINS(m, "cut.st");
    }
    CHECK_NOTHROW(st::parse(file, "whole.st"));
}

TEST_CASE("safetensors: corrupted headers either parse consistently or throw babygpt::Error") {
    const Bytes file = st::serialize(sample_contents());
    std::size_t header_end = 8;
    for (int i = 0; i < 8; ++i) header_end += static_cast<std::size_t>(file[static_cast<std::size_t>(i)]) << (8 * i);
    REQUIRE(header_end < file.size());
    std::size_t accepted = 0, refused = 0;

    auto try_parse = [&](const Bytes& bytes) {
        try {
            const st::Contents c = st::parse(bytes.data(), bytes.size(), "mutant.st");
            ++accepted;
            // Whatever parse accepts must be well-formed enough to write and read back unchanged.
            check_same_contents(c, st::parse(st::serialize(c), "rewritten"));
        } catch (const babygpt::Error&) {
            ++refused;
        }
    };

    const unsigned char masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF};
    for (std::size_t i = 0; i < header_end; ++i) {
        for (unsigned char mask : masks) {
            Bytes mutant = file;
            mutant[i] ^= mask;
            try_parse(mutant);
        }
    }

    const unsigned char interesting[] = {'{', '}', '[', ']', '"', ',', ':', '-', '0', '1', '9', 'e', '.', ' ',
                                         '\\', 'u', 0x00, 0x7F, 0x80, 0xC3, 0xFF};
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    auto next = [&state](std::size_t bound) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::size_t>((state >> 33) % bound);
    };
    for (int round = 0; round < 20000; ++round) {
        Bytes mutant = file;
        const std::size_t edits = 1 + next(4);
        for (std::size_t e = 0; e < edits; ++e)
            mutant[8 + next(header_end - 8)] = interesting[next(sizeof interesting)];
        if (next(4) == 0) mutant.resize(next(mutant.size() + 1));
        try_parse(mutant);
    }
    CHECK(accepted > 0);  // e.g. flipping a bit of a padding space into another whitespace or a tab
    CHECK(refused > 0);
}

// ---- files -------------------------------------------------------------------------------------------

TEST_CASE("safetensors: load reports a missing or unreadable file by its path") {
    TempDir dir;
    const std::string missing = dir.file("no_such_model.safetensors");
    std::string m = error_of([&] { st::load(missing); });
    CHECK_ERROR_CONTAINS(m, missing);
    CHECK_ERROR_CONTAINS(m, "cannot open");

    m = error_of([&] { st::load(dir.path.string()); });
    CHECK_ERROR_CONTAINS(m, dir.path.string());

    const std::string garbage = dir.file("garbage.safetensors");
    write_all(garbage, {'h', 'e', 'l', 'l', 'o'});
    m = error_of([&] { st::load(garbage); });
    CHECK_ERROR_CONTAINS(m, garbage);
    CHECK_ERROR_CONTAINS(m, "shorter than the 8-byte");
}

TEST_CASE("safetensors: save replaces an existing file and leaves no temporary behind") {
    TempDir dir;
    const std::string path = dir.file("ckpt.safetensors");
    st::Contents first;
    first.tensors["x"] = st::from_tensor(Tensorf::ones({3}));
    st::save(path, first);
    st::Contents second = sample_contents();
    st::save(path, second);
    check_same_contents(second, st::load(path));
    CHECK(dir.temporaries().empty());
    CHECK(fs::directory_iterator(dir.path) != fs::directory_iterator());
}

TEST_CASE("safetensors: a failed save leaves the old target intact and no temporary behind") {
    TempDir dir;
    const st::Contents contents = sample_contents();

    SUBCASE("the target is a directory") {
        const std::string path = dir.file("model.safetensors");
        fs::create_directory(path);
        write_all(dir.file("model.safetensors/inside"), {1, 2, 3});
        const std::string m = error_of([&] { st::save(path, contents); });
        CHECK_ERROR_CONTAINS(m, "safetensors::save");
        CHECK_ERROR_CONTAINS(m, path);
        CHECK(fs::is_directory(path));
        CHECK(read_all(dir.file("model.safetensors/inside")) == Bytes{1, 2, 3});
        CHECK(dir.temporaries().empty());
    }
    SUBCASE("the parent directory does not exist") {
        const std::string path = dir.file("missing_dir/model.safetensors");
        const std::string m = error_of([&] { st::save(path, contents); });
        CHECK_ERROR_CONTAINS(m, path);
        CHECK_ERROR_CONTAINS(m, "cannot create");
        CHECK_FALSE(fs::exists(path));
    }
#ifndef _WIN32
    SUBCASE("the directory is not writable") {
        const std::string path = dir.file("model.safetensors");
        const Bytes old = {'o', 'l', 'd'};
        write_all(path, old);
        REQUIRE(::chmod(dir.path.c_str(), 0500) == 0);
        const bool enforced = ::access(dir.path.c_str(), W_OK) != 0;  // not enforced for root
        const std::string m = error_of([&] { st::save(path, contents); });
        ::chmod(dir.path.c_str(), 0700);
        if (enforced) {
            CHECK_ERROR_CONTAINS(m, path);
            CHECK_ERROR_CONTAINS(m, "unchanged");
            CHECK(read_all(path) == old);
        } else {
            MESSAGE("running with write access to read-only directories; checked the save succeeded instead");
            CHECK(m.empty());
        }
        CHECK(dir.temporaries().empty());
    }
    SUBCASE("the disk fills up in the middle of the write") {
        // RLIMIT_FSIZE makes write() fail with EFBIG once the temporary reaches 4 KiB, as a full disk would.
        const std::string path = dir.file("model.safetensors");
        const Bytes old = st::serialize(contents);
        write_all(path, old);
        st::Contents big = contents;
        big.tensors["big"] = st::from_tensor(Tensorf::ones({64, 256}));

        struct rlimit saved {};
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
        struct rlimit limited = saved;
        limited.rlim_cur = 4096;
        void (*previous_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
        const std::string m = error_of([&] { st::save(path, big); });
        ::setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, previous_handler);

        CHECK_ERROR_CONTAINS(m, path);
        CHECK_ERROR_CONTAINS(m, "write failed after 4096 of");
        CHECK(read_all(path) == old);
        CHECK(dir.temporaries().empty());
        check_same_contents(contents, st::load(path));
    }
#endif
}

TEST_CASE("safetensors: write_file_atomically writes any bytes and says whether the file could be created") {
    TempDir dir;
    const std::string path = dir.file("notes.txt");
    const std::string text = "step,loss\n0,4.17\n";
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    CHECK_FALSE(st::detail::write_file_atomically(path, bytes, text.size()).has_value());
    CHECK(read_all(path) == Bytes(text.begin(), text.end()));
    CHECK_FALSE(st::detail::write_file_atomically(path, bytes, 4).has_value());  // replaces it
    CHECK(read_all(path) == Bytes(text.begin(), text.begin() + 4));
    CHECK(dir.temporaries().empty());

    const auto missing = st::detail::write_file_atomically(dir.file("missing_dir/notes.txt"), bytes, text.size());
    REQUIRE(missing.has_value());
    CHECK_FALSE(missing->created);
    CHECK(contains(missing->reason, "cannot create"));

    fs::create_directory(dir.file("taken"));
    const auto taken = st::detail::write_file_atomically(dir.file("taken"), bytes, text.size());
    REQUIRE(taken.has_value());
    CHECK(taken->created);  // the temporary was written; renaming it over a directory failed
    CHECK(contains(taken->reason, "cannot rename"));
    CHECK(fs::is_directory(dir.file("taken")));
    CHECK(dir.temporaries().empty());
}

TEST_CASE("io::write_file_atomically writes text or bytes, or throws naming the path and the cause") {
    TempDir dir;
    const std::string path = dir.file("losses.csv");
    babygpt::io::write_file_atomically(path, "step,loss\n0,4.17\n");
    const std::string text = "step,loss\n0,4.17\n";
    CHECK(read_all(path) == Bytes(text.begin(), text.end()));
    const Bytes bytes = {0x00, 0xFF, 0x0A, 0x00};  // any bytes, NUL included
    babygpt::io::write_file_atomically(path, bytes.data(), bytes.size());
    CHECK(read_all(path) == bytes);
    babygpt::io::write_file_atomically(path, std::string());  // replaced by an empty file
    CHECK(read_all(path).empty());
    CHECK(dir.temporaries().empty());

    const std::string missing = dir.file("missing_dir/losses.csv");
    const std::string m = error_of([&] { babygpt::io::write_file_atomically(missing, text); });
    CHECK_ERROR_CONTAINS(m, "io::write_file_atomically: cannot write '" + missing + "' (cannot create '" + missing +
                                ".tmp.");
    CHECK_ERROR_CONTAINS(m, "; the existing file, if any, is unchanged");
    CHECK_FALSE(fs::exists(dir.file("missing_dir")));

    fs::create_directory(dir.file("taken"));
    fs::path inside = fs::path(dir.file("taken")) / "kept.txt";
    std::ofstream(inside) << "kept";
    const std::string taken = error_of([&] { babygpt::io::write_file_atomically(dir.file("taken"), text); });
    CHECK_ERROR_CONTAINS(taken, "cannot write '" + dir.file("taken") + "'");
    CHECK_ERROR_CONTAINS(taken, "cannot rename");
    CHECK(fs::is_directory(dir.file("taken")));
    CHECK(fs::exists(inside));
    CHECK(dir.temporaries().empty());
}

#ifdef BABYGPT_TEST_DATA_DIR
TEST_CASE("safetensors: reads the fixture written by tools/safetensors_io.py") {
    const std::string path = std::string(BABYGPT_TEST_DATA_DIR) + "/parity_small.safetensors";
    if (!fs::exists(path)) {
        MESSAGE("no fixture at " << path);
        return;
    }
    const st::Contents c = st::load(path);
    CHECK(c.metadata.count("vocab_size") == 1);
    CHECK_FALSE(c.tensors.empty());
    for (const auto& item : c.tensors) {
        CAPTURE(item.first);
        if (item.second.dtype == st::DType::F32)
            CHECK(st::to_tensor<float>(item.second, item.first).shape() == item.second.shape);
    }
    // Both writers store the tensors in name order without gaps, so the data buffers are identical.
    const Bytes original = read_all(path);
    const Bytes rewritten = st::serialize(c);
    std::size_t data_bytes = 0;
    for (const auto& item : c.tensors) data_bytes += item.second.data.size();
    REQUIRE(original.size() >= data_bytes);
    REQUIRE(rewritten.size() >= data_bytes);
    CHECK(Bytes(original.end() - static_cast<std::ptrdiff_t>(data_bytes), original.end()) ==
          Bytes(rewritten.end() - static_cast<std::ptrdiff_t>(data_bytes), rewritten.end()));
    check_same_contents(c, st::parse(rewritten, "rewritten fixture"));
}
#endif
