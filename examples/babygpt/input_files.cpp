#include "input_files.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <babygpt/error.hpp>

#include "errors.hpp"

namespace babygpt_cli {

namespace {

const char* file_type(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
    if (bytes < 1024) return std::to_string(bytes) + " bytes";
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes) / 1024;
    int unit = 0;
    while (value >= 1024 && unit < 3) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof(text), value < 10 ? "%.1f %s" : "%.0f %s", value, units[unit]);
    return text;
}

std::uint64_t check_input_file(const std::string& path, const char* kind, const char* option, const std::string& fix,
                               std::uint64_t max_bytes) {
    BABYGPT_CHECK(!path.empty(), option, " is empty; ", fix);
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) {
        const int error = errno;
        BABYGPT_CHECK(error != ENOENT && error != ENOTDIR, path, ": no such ", kind, "; ", fix);
        fail(path, ": cannot read it (", std::strerror(error), "); ", fix);
    }
    BABYGPT_CHECK(S_ISREG(info.st_mode), path, ": is ", file_type(info.st_mode), ", not a regular file; ", fix);
    const auto size = static_cast<std::uint64_t>(info.st_size);
    BABYGPT_CHECK(size <= max_bytes, path, ": the file has ", format_bytes(size), ", more than the ",
                  format_bytes(max_bytes), " limit for ", option, "; use a smaller file");
    return size;
}

std::string read_small_text_file(const std::string& path, const char* option, const std::string& fix,
                                 std::uint64_t max_bytes) {
    check_input_file(path, "file", option, fix, max_bytes);
    std::ifstream in(path, std::ios::binary);
    BABYGPT_CHECK(in.is_open(), path, ": cannot open it (", std::strerror(errno), "); ", fix);
    std::string text;
    char chunk[4096];
    // Bounded even if the file grew after the check.
    while (text.size() <= max_bytes && (in.read(chunk, sizeof(chunk)) || in.gcount() > 0))
        text.append(chunk, static_cast<std::size_t>(in.gcount()));
    BABYGPT_CHECK(!in.bad(), path, ": error while reading it; ", fix);
    BABYGPT_CHECK(text.size() <= max_bytes, path, ": the file grew beyond the ", format_bytes(max_bytes), " limit for ",
                  option, " while it was read; ", fix);
    return text;
}

std::string default_data_path() {
    std::error_code ec;
    const std::filesystem::path program = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const std::filesystem::path installed = program.parent_path().parent_path() / "share" / "babygpt" / "default.txt";
        if (std::filesystem::is_regular_file(installed, ec)) return installed.string();
    }
    return BABYGPT_DEFAULT_DATA;
}

}  // namespace babygpt_cli
