// Hostile files: checkpoints and headers built to crash, exhaust or stall the library. Each must be
// refused quickly with a one-line babygpt::Error, before any large allocation.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "babygpt/kernels/buffer_pool.hpp"
#include "babygpt/data/utf8.hpp"
#include "babygpt/io/checkpoint.hpp"
#include "babygpt/io/safetensors.hpp"
#include "babygpt/io/state_dict.hpp"
#include "babygpt/models/gpt.hpp"

#include "helpers.hpp"

namespace {

namespace st = babygpt::safetensors;
namespace io = babygpt::io;
namespace fs = std::filesystem;
using babygpt::GPT;
using babygpt_test::contains;
using babygpt_test::safetensors_file;
using babygpt::GPTConfig;
using babygpt::Shape;
using Bytes = std::vector<unsigned char>;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// The message of the babygpt::Error that `f` throws, and how long it took; fails if it throws nothing
/// or anything else.
struct Refusal {
    std::string message;
    double seconds = 0;
};

Refusal refusal(const std::function<void()>& f) {
    const auto start = Clock::now();
    Refusal r;
    try {
        f();
        FAIL_CHECK("expected a babygpt::Error, nothing was thrown");
    } catch (const babygpt::Error& e) {
        r.message = e.what();
    } catch (const std::exception& e) {
        FAIL_CHECK("expected a babygpt::Error, got another exception: " << e.what());
    }
    r.seconds = seconds_since(start);
    return r;
}


/// Checks what every refusal of a hostile input must be: a babygpt::Error, on one line, naming `part`,
/// in under `max_seconds`.
#define CHECK_REFUSED(call, part, max_seconds)                                                         \
    do {                                                                                               \
        const Refusal r_ = refusal([&] { call; });                                                     \
        CHECK_MESSAGE(contains(r_.message, part), "message: \"" << r_.message << "\" lacks \"" << (part) << "\""); \
        CHECK_MESSAGE(r_.message.find('\n') == std::string::npos, "multi-line message: " << r_.message); \
        CHECK_MESSAGE(r_.message.size() < 2000, "message of " << r_.message.size() << " bytes");       \
        CHECK_MESSAGE(r_.seconds < (max_seconds), "took " << r_.seconds << " s: " << r_.message);     \
    } while (0)

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

GPTConfig small_config() {
    GPTConfig c;
    c.vocab_size = 5;
    c.block_size = 4;
    c.n_embed = 8;
    c.n_head = 2;
    c.n_layer = 2;
    return c;
}

/// A checkpoint file's contents as the trainer writes one: the state_dict plus the configuration.
st::Contents checkpoint_of(const GPTConfig& config) {
    babygpt::Generator gen(7);
    GPT<float> model(config, gen);
    st::Contents contents = io::state_dict(model);
    contents.metadata = io::config_metadata(config);
    return contents;
}

/// A fresh directory, removed with its contents at the end.
struct HostileTempDir {
    fs::path path;
    HostileTempDir() {
        static int counter = 0;
        for (;;) {
            path = fs::temp_directory_path() /
                   ("babygpt_hostile_test_" + std::to_string(Clock::now().time_since_epoch().count()) + "_" +
                    std::to_string(counter++));
            if (fs::create_directory(path)) break;
        }
    }
    ~HostileTempDir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

// ---- sizes that overflow -------------------------------------------------------------------------------

TEST_CASE("hostile: numel refuses negative dimensions and products beyond int64") {
    CHECK(babygpt::numel({}) == 1);
    CHECK(babygpt::numel({3, 0, 5}) == 0);
    CHECK(babygpt::numel({std::int64_t(1) << 31, std::int64_t(1) << 31}) == std::int64_t(1) << 62);
    CHECK_REFUSED(babygpt::numel({std::int64_t(1) << 32, std::int64_t(1) << 32}), "has too many elements", 1);
    CHECK_REFUSED(babygpt::numel({2, -3}), "negative dimension", 1);
    // An overflow before a zero is still an overflow: the shape is refused, not taken as empty.
    CHECK_REFUSED(babygpt::numel({std::int64_t(1) << 62, 4, 0}), "too many elements", 1);
    CHECK_REFUSED(babygpt::numel(Shape(100, 2)), "100 dims", 1);
}

TEST_CASE("hostile: buffers whose byte count overflows or cannot be had are Errors naming the size") {
    CHECK_REFUSED(babygpt::kernels::allocate_buffer<float>(std::size_t(1) << 62), "byte count overflows", 1);
    CHECK_REFUSED(babygpt::Tensorf::full({std::int64_t(1) << 62}, 1.0f), "byte count overflows", 1);
    // 2^50 floats (4.5 PB): the heap refuses, and the message says how much was asked for.
    if (babygpt_test::under_address_sanitizer) {
        MESSAGE("AddressSanitizer aborts on an impossible allocation instead of throwing: not checked here");
    } else {
        const Shape huge{std::int64_t(1) << 25, std::int64_t(1) << 25};
        CHECK_REFUSED(babygpt::kernels::allocate_buffer<float>(huge), "out of memory allocating 4.5 PB", 1);
        CHECK_REFUSED(babygpt::kernels::allocate_buffer<float>(huge), "(33554432,33554432)", 1);
    }
    CHECK(babygpt::kernels::describe_bytes(512) == "512 bytes");
    CHECK(babygpt::kernels::describe_bytes(3'900'000'000) == "3.9 GB");
}

// ---- configurations that ask for more than the file holds -----------------------------------------------

TEST_CASE("hostile: a checkpoint claiming n_embed = 2^62 is refused before anything is allocated") {
    st::Contents contents = checkpoint_of(small_config());
    contents.metadata["n_embed"] = std::to_string(std::int64_t(1) << 62);
    contents.metadata["n_head"] = "1";
    const Bytes file = st::serialize(contents);
    const st::Contents parsed = st::parse(file, "huge.safetensors");
    CHECK_REFUSED(io::config_from_metadata(parsed.metadata, "huge.safetensors"), "n_embed must be at most 16384", 1);
    CHECK_REFUSED(io::config_from_checkpoint(parsed, "huge.safetensors"), "huge.safetensors", 1);
}

TEST_CASE("hostile: a checkpoint claiming n_layer = 100000 is refused at once") {
    st::Contents contents = checkpoint_of(small_config());
    contents.metadata["n_layer"] = "100000";
    const st::Contents parsed = st::parse(st::serialize(contents), "deep.safetensors");
    CHECK_REFUSED(io::config_from_checkpoint(parsed, "deep.safetensors"), "n_layer must be at most 1024", 1);
}

TEST_CASE("hostile: a configuration within bounds must still match the tensors the file declares") {
    // 1000 layers (within the bound): the file holds 2 of them, so the scan stops after a few missing.
    st::Contents contents = checkpoint_of(small_config());
    contents.metadata["n_layer"] = "1000";
    CHECK_REFUSED(io::config_from_checkpoint(contents, "lying.safetensors"), "tensors missing for the configuration",
                  1);
    CHECK_REFUSED(io::config_from_checkpoint(contents, "lying.safetensors"), "(and possibly more)", 1);

    // A parameter count past the bound, each size within its own: refused by the checked total.
    GPTConfig big = small_config();
    big.n_layer = 1024;
    big.n_head = 1024;
    big.n_embed = 1024;
    big.block_size = 32768;
    CHECK_REFUSED(big.validate(), "more than the limit of 4294967296", 1);
}

TEST_CASE("hostile: GPTConfig::validate bounds each size and names the field, the bound and the fix") {
    struct Case {
        const char* field;
        std::int64_t GPTConfig::*member;
        std::int64_t bound;
    };
    const std::vector<Case> cases = {{"vocab_size", &GPTConfig::vocab_size, GPTConfig::max_vocab_size},
                                     {"block_size", &GPTConfig::block_size, GPTConfig::max_block_size},
                                     {"n_embed", &GPTConfig::n_embed, GPTConfig::max_n_embed},
                                     {"n_head", &GPTConfig::n_head, GPTConfig::max_n_head},
                                     {"n_layer", &GPTConfig::n_layer, GPTConfig::max_n_layer}};
    for (const Case& c : cases) {
        CAPTURE(c.field);
        GPTConfig config = small_config();
        config.n_head = 1;  // every n_embed is divisible by it
        config.n_layer = 1;  // one block of the widest size is within the parameter bound
        config.*c.member = c.bound;
        if (c.member == &GPTConfig::n_head) config.n_embed = c.bound;
        CHECK_NOTHROW(config.validate());  // the bound itself is allowed
        config.*c.member = c.bound + 1;
        CHECK_REFUSED(config.validate(), std::string(c.field) + " must be at most " + std::to_string(c.bound), 1);
        config.*c.member = std::numeric_limits<std::int64_t>::max();
        CHECK_REFUSED(config.validate(), "; use ", 1);
    }
}

TEST_CASE("hostile: check_checkpoint_matches_config accepts the real file and names every kind of mismatch") {
    const GPTConfig config = small_config();
    const st::Contents good = checkpoint_of(config);
    CHECK_NOTHROW(io::check_checkpoint_matches_config(good, config, "good.st"));
    CHECK(io::config_from_checkpoint(good, "good.st").n_layer == 2);

    st::Contents wrong_shape = good;
    wrong_shape.tensors["blocks.1.ln2.bias"] = st::from_tensor(babygpt::Tensorf::zeros({9}));
    CHECK_REFUSED(io::check_checkpoint_matches_config(wrong_shape, config, "f.st"),
                  "blocks.1.ln2.bias is (9,) but the configuration needs (8,)", 1);

    st::Contents wrong_dtype = good;
    wrong_dtype.tensors["lm_head.bias"] = st::from_tensor(babygpt::IndexTensor::zeros({5}));
    CHECK_REFUSED(io::check_checkpoint_matches_config(wrong_dtype, config, "f.st"), "dtype I64", 1);

    st::Contents missing = good;
    missing.tensors.erase("blocks.0.sa.heads.1.tril");
    CHECK_REFUSED(io::check_checkpoint_matches_config(missing, config, "f.st"), "missing for the configuration: "
                  "blocks.0.sa.heads.1.tril", 1);

    st::Contents extra = good;
    extra.tensors["blocks.2.ln1.weight"] = good.tensors.at("blocks.1.ln1.weight");
    extra.tensors["evil\nname"] = good.tensors.at("blocks.1.ln1.weight");
    CHECK_REFUSED(io::check_checkpoint_matches_config(extra, config, "f.st"),
                  "unexpected tensors (not in the model the configuration describes): 'blocks.2.ln1.weight', "
                  "'evil\\x0aname'", 1);

    // Many unexpected tensors: the message names a few and counts them all.
    st::Contents many = good;
    for (int i = 0; i < 1000; ++i) many.tensors["extra." + std::to_string(i)] = good.tensors.at("lm_head.bias");
    CHECK_REFUSED(io::check_checkpoint_matches_config(many, config, "f.st"), "... (1000 in all)", 1);
}

TEST_CASE("hostile: the state_dict implied by a configuration is exactly the model's, and so is its size") {
    for (const auto& [layers, heads, width, context, vocab] :
         std::vector<std::tuple<int, int, int, int, int>>{{1, 1, 4, 3, 2}, {2, 2, 8, 4, 5}, {3, 4, 12, 7, 11}}) {
        GPTConfig config;
        config.n_layer = layers;
        config.n_head = heads;
        config.n_embed = width;
        config.block_size = context;
        config.vocab_size = vocab;
        const auto& layers_value = layers;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(layers_value);
        const auto& heads_value = heads;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(heads_value);
        babygpt::Generator gen(1);
        GPT<float> model(config, gen);
        std::vector<std::pair<std::string, Shape>> actual, implied;
        std::int64_t elements = 0;
        for (const auto& [name, t] : model.named_parameters()) actual.emplace_back(name, t.shape());
        for (const auto& [name, t] : model.named_buffers()) actual.emplace_back(name, t.shape());
        for (const auto& item : actual) elements += babygpt::numel(item.second);
        io::for_each_gpt_tensor(config, [&](const std::string& name, const Shape& shape) {
            implied.emplace_back(name, shape);
            return true;
        });
        std::sort(actual.begin(), actual.end());
        std::sort(implied.begin(), implied.end());
        CHECK(actual == implied);
        CHECK(config.state_elements() == elements);
    }
}

// ---- headers built to exhaust the parser -----------------------------------------------------------------

TEST_CASE("hostile: values nested 80,000 deep in a dtype, shape, offsets, metadata or name are refused") {
    const std::string deep = nested(80000);
    const std::vector<std::string> headers = {
        "{\"a\":{\"dtype\":" + deep + ",\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":" + deep + ",\"data_offsets\":[0,4]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + deep + "}}",
        "{\"__metadata__\":{\"n_layer\":" + deep + "}}",
        "{\"__metadata__\":" + deep + "}",
        "{\"a\":" + deep + "}",
        "{\"a\":{\"extra\":" + std::string(80000, '[') + "}}",  // unterminated too
        "{\"a\":" + [] {
            std::string objects;
            for (int i = 0; i < 80000; ++i) objects += "{\"k\":";
            return objects + "1" + std::string(80000, '}');
        }() + "}",
    };
    for (const std::string& header : headers) {
        CAPTURE(header.substr(0, 40));
        const Bytes file = safetensors_file(header, Bytes(4, 0));
        CHECK_REFUSED(st::parse(file, "nested.st"), "more than 64 levels deep", 2);
    }
    // 64 levels is the limit; 63 of them inside the header object still parse (and are refused later).
    CHECK_REFUSED(st::parse(safetensors_file("{\"a\":{\"dtype\":" + nested(62) + "}}"), "ok.st"),
                  "\"dtype\" must be a string, got [[...]]", 1);
    CHECK_REFUSED(st::parse(safetensors_file("{\"a\":{\"dtype\":" + nested(63) + "}}"), "no.st"), "64 levels", 1);
}

TEST_CASE("hostile: long names and values are cut short in messages") {
    const std::string name(1 << 20, 'n');
    const std::string value(1 << 20, 'v');
    CHECK_REFUSED(st::parse(safetensors_file("{\"" + name + "\":5}"), "long.st"), "nnnn...'", 1);
    CHECK_REFUSED(st::parse(safetensors_file("{\"a\":{\"dtype\":\"" + value + "\"}}"), "long.st"), "vvv...\"", 1);
    CHECK_REFUSED(st::parse(safetensors_file("{\"a\":{\"dtype\":\"" + value + "\\u0000\"}}"), "long.st"), "...", 1);
    std::map<std::string, std::string> metadata = babygpt::io::config_metadata(small_config());
    metadata["n_layer"] = std::string(1 << 20, '7') + "\nx";
    CHECK_REFUSED(io::config_from_metadata(metadata, "m"), "is not an integer", 1);
    // An unterminated megabyte string: nlohmann quotes the token it read; the message does not.
    CHECK_REFUSED(st::parse(safetensors_file("{\"" + name), "cut.st"), "not valid UTF-8 JSON", 1);
}

TEST_CASE("hostile: 40,000 zero-size tensors parse quickly, and parsing time grows linearly") {
    auto header_with = [](int n) {
        std::string header = "{";
        for (int i = 0; i < n; ++i)
            header += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
        return safetensors_file(header + "}");
    };
    auto time_parse = [](const Bytes& file, std::size_t expected) {
        double best = 1e9;
        for (int round = 0; round < 2; ++round) {
            const auto start = Clock::now();
            const st::Contents contents = st::parse(file, "many.st");
            best = std::min(best, seconds_since(start));
            CHECK(contents.tensors.size() == expected);
        }
        return best;
    };
    const double t40k = time_parse(header_with(40000), 40000);
    CHECK_MESSAGE(t40k < 5.0, "40,000 tensors took " << t40k << " s");  // was over 100 s when quadratic
    const double t20k = time_parse(header_with(20000), 20000);
    const double t80k = time_parse(header_with(80000), 80000);
    MESSAGE("zero-size tensors: 20k in " << t20k << " s, 40k in " << t40k << " s, 80k in " << t80k << " s");
    // Linear: 4x the tensors in about 4x the time (quadratic would be 16x); generous for a loaded machine.
    CHECK_MESSAGE(t80k < 10 * t20k + 0.05, "20k: " << t20k << " s, 80k: " << t80k << " s");
}

TEST_CASE("hostile: a header size field that lies is refused, in memory and on disk") {
    const std::string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    Bytes file = safetensors_file(header, Bytes(4, 0));
    REQUIRE_NOTHROW(st::parse(file, "ok.st"));
    auto with_size = [&](std::uint64_t n) {
        Bytes lying = file;
        for (int i = 0; i < 8; ++i) lying[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
        return lying;
    };
    CHECK_REFUSED(st::parse(with_size(header.size() + 3), "lie.st"), "not valid UTF-8 JSON", 1);
    CHECK_REFUSED(st::parse(with_size(header.size() - 1), "lie.st"), "not valid UTF-8 JSON", 1);
    CHECK_REFUSED(st::parse(with_size(1000), "lie.st"), "runs past the end of the file", 1);
    CHECK_REFUSED(st::parse(with_size(std::uint64_t(1) << 40), "lie.st"), "exceeds the limit", 1);
    HostileTempDir dir;
    const std::string path = dir.file("lie.safetensors");
    write_bytes(path, with_size(1000));
    CHECK_REFUSED(st::load(path), "runs past the end of the file", 1);
    write_bytes(path, with_size(header.size() + 2));
    CHECK_REFUSED(st::load(path), path, 1);
    write_bytes(path, file);
    CHECK(st::load(path).tensors.count("a") == 1);
}

// ---- files that never end or never arrive ---------------------------------------------------------------

#ifndef _WIN32

TEST_CASE("hostile: /dev/zero, a directory and a FIFO are refused without reading or blocking") {
    HostileTempDir dir;
    const std::string fifo = dir.file("pipe");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    struct Case {
        std::string path;
        std::string kind;
    };
    const std::vector<Case> cases = {{"/dev/zero", "a character device"},
                                     {dir.path.string(), "a directory"},
                                     {fifo, "a FIFO"}};
    for (const Case& c : cases) {
        CAPTURE(c.path);
        for (int reader = 0; reader < 3; ++reader) {
            // Run the read on its own thread: if it blocked on the FIFO, opening the write end (and closing
            // it) releases it, so the failure is reported instead of hanging the test run.
            auto done = std::make_shared<std::atomic<bool>>(false);
            auto message = std::make_shared<std::string>();
            std::thread worker([=] {
                try {
                    if (reader == 0) (void)st::load(c.path);
                    else if (reader == 1) (void)babygpt::data::read_file(c.path);
                    else (void)babygpt::data::read_utf8_file(c.path);
                } catch (const babygpt::Error& e) {
                    *message = e.what();
                } catch (const std::exception& e) {
                    *message = std::string("other exception: ") + e.what();
                }
                done->store(true);
            });
            const auto start = Clock::now();
            while (!done->load() && seconds_since(start) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
            const bool finished = done->load();
            if (!finished && c.kind == "a FIFO") {
                const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
                if (fd >= 0) ::close(fd);
            }
            worker.join();
            CHECK_MESSAGE(finished, "reader " << reader << " blocked on " << c.path);
            CHECK_MESSAGE(contains(*message, "not a regular file (" + c.kind + ")"), *message);
            CHECK_MESSAGE(contains(*message, c.path), *message);
            CHECK(message->find('\n') == std::string::npos);
        }
    }
}

TEST_CASE("hostile: a sparse 3 GB file is refused quickly, as a checkpoint and as a text") {
    HostileTempDir dir;
    const std::string path = dir.file("sparse.bin");
    {
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        REQUIRE(fd >= 0);
        const bool sized = ::ftruncate(fd, off_t(3) << 30) == 0;
        ::close(fd);
        REQUIRE(sized);
    }
    // All zeros: a header size of 0, so an empty header; nothing past the first 8 bytes is read.
    CHECK_REFUSED(st::load(path), "not valid UTF-8 JSON", 2);
    CHECK_REFUSED(babygpt::data::read_file(path), "more than the limit of 2147483648 bytes", 2);
    CHECK_REFUSED(babygpt::data::read_utf8_file(path), "3221225472 bytes", 2);
    // A header size past the 100 MB limit, then a plausible one whose header is not JSON.
    {
        std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
        const unsigned char big[8] = {0, 0, 0, 0, 1, 0, 0, 0};
        out.write(reinterpret_cast<const char*>(big), 8);
    }
    CHECK_REFUSED(st::load(path), "exceeds the limit", 2);
    {
        std::fstream out(path, std::ios::in | std::ios::out | std::ios::binary);
        const unsigned char size[8] = {0, 0, 0, 1, 0, 0, 0, 0};  // 16 MB of zero bytes as the header
        out.write(reinterpret_cast<const char*>(size), 8);
    }
    CHECK_REFUSED(st::load(path), "NUL byte at header offset 0", 5);
    fs::remove(path);
    CHECK_FALSE(fs::exists(path));
}

#endif

// ---- the fuzz targets' seed checkpoints (tests/fuzz/corpus, written by make_seeds.py) -------------------

TEST_CASE("hostile: the fuzz seed checkpoints load into a model, and the lying one is refused") {
    const fs::path seeds = fs::path(__FILE__).parent_path() / "fuzz" / "corpus" / "checkpoint";
    REQUIRE_MESSAGE(fs::is_directory(seeds), seeds.string());
    for (const char* name : {"smallest_gpt", "two_heads"}) {
        CAPTURE(name);
        const std::string path = (seeds / name).string();
        const st::Contents contents = st::load(path);
        const GPTConfig config = io::config_from_checkpoint(contents, path);
        babygpt::Generator gen(1);
        GPT<float> model(config, gen);
        io::load_state_dict(model, contents, path);
        // make_seeds.py fills tensor element i with ((7 i) mod 5 - 2) / 10: -0.2, 0.0, 0.2, -0.1, ...
        CHECK(model.lm_head.bias.data()[0] == -0.2f);
        CHECK(model.token_embedding_table.weight.data()[0] == -0.2f);
    }
    const std::string lying = (seeds / "config_larger_than_file").string();
    CHECK_REFUSED(io::config_from_checkpoint(st::load(lying), lying), "missing for the configuration", 1);
}
