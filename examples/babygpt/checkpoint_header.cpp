#include "checkpoint_header.hpp"

#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include <babygpt/error.hpp>

#include "input_files.hpp"

namespace babygpt_cli {

namespace {

// The safetensors format: an 8-byte little-endian header size, then that many bytes of JSON. Readers
// refuse headers above 100 MB (as the library's loader does).
constexpr std::uint64_t max_header_bytes = 100'000'000;

struct Header {
    std::uint64_t file_size = 0;
    std::uint64_t header_size = 0;
    std::string text;  // empty when the file is too short or the size is out of range
};

Header read_header(const std::string& path, std::uint64_t file_size) {
    Header header;
    header.file_size = file_size;
    std::ifstream in(path, std::ios::binary);
    BABYGPT_CHECK(in.is_open(), path, ": cannot open the checkpoint file");
    unsigned char size_bytes[8] = {};
    if (file_size < 8 || !in.read(reinterpret_cast<char*>(size_bytes), 8)) return header;
    for (int i = 7; i >= 0; --i) header.header_size = header.header_size << 8 | size_bytes[i];
    if (header.header_size > max_header_bytes || header.header_size > file_size - 8) return header;
    header.text.resize(static_cast<std::size_t>(header.header_size));
    if (!in.read(header.text.data(), static_cast<std::streamsize>(header.text.size()))) header.text.clear();
    return header;
}

}  // namespace

void check_checkpoint_file(const std::string& path, const char* option) {
    const std::string fix = std::string("pass a checkpoint written by 'babygpt train' with ") + option;
    const std::uint64_t size = check_input_file(path, "checkpoint file", option, fix);
    const Header header = read_header(path, size);
    BABYGPT_CHECK(size >= 8, path, ": the file has ", size,
                  " bytes, shorter than the 8-byte header size that starts every safetensors file (is this a "
                  "safetensors file?); ", fix);
    BABYGPT_CHECK(header.header_size <= max_header_bytes, path, ": header size ", header.header_size,
                  " exceeds the limit of ", max_header_bytes, " bytes (is this a safetensors file?); ", fix);
    BABYGPT_CHECK(header.header_size <= size - 8, path, ": header size ", header.header_size,
                  " runs past the end of the file (", size, " bytes); the file may be truncated");
    const std::size_t first = header.text.find_first_not_of(" \t\r\n");
    BABYGPT_CHECK(first != std::string::npos && header.text[first] == '{' && nlohmann::json::accept(header.text), path,
                  ": the header is not a JSON object (is this a safetensors file?); ", fix);
}

std::optional<std::map<std::string, std::string>> read_header_metadata(const std::string& path) {
    try {
        const std::uint64_t size = check_input_file(path, "file", "", "");
        const Header header = read_header(path, size);
        if (header.text.empty()) return std::nullopt;
        const nlohmann::json json = nlohmann::json::parse(header.text);
        if (!json.is_object()) return std::nullopt;
        std::map<std::string, std::string> metadata;
        const auto found = json.find("__metadata__");
        if (found != json.end() && found->is_object())
            for (const auto& [key, value] : found->items())
                if (value.is_string()) metadata[key] = value.get<std::string>();
        return metadata;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace babygpt_cli
