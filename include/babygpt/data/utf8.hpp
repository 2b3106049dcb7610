#pragma once
// UTF-8 <-> Unicode code points. The model's tokens are code points, so a Chinese character is one
// token, not three bytes. Decoding is strict (RFC 3629): overlong forms, surrogates, values above
// U+10FFFF and truncated sequences are errors that name the byte offset.
//
// A byte order mark (U+FEFF at the start) belongs to a file, not to the text: decode_utf8 keeps every
// code point, U+FEFF included, and only read_utf8_file (reading a corpus) skips one at the start.
// Files are read only when they are regular files of bounded size (detail::RegularFile), so a FIFO,
// /dev/zero or a directory is refused at once instead of blocking or reading forever.

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <sys/stat.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "babygpt/error.hpp"

namespace babygpt::data {

/// What decode_utf8 does with a byte order mark (EF BB BF) at the very start of the text.
enum class ByteOrderMark {
    keep,  // decode it as the character U+FEFF, like any other (text that is not a whole file)
    skip,  // drop it, as text editors write one at the start of a file
};

/// Decodes UTF-8 text into code points; throws babygpt::Error naming the offset of the first bad byte.
/// `source` names the text in messages (a file name). Every code point is kept (U+0000 and U+FEFF too)
/// unless `bom` is ByteOrderMark::skip, which drops EF BB BF at offset 0 only.
inline std::vector<char32_t> decode_utf8(const std::string& text, const std::string& source = "text",
                                         ByteOrderMark bom = ByteOrderMark::keep) {
    std::vector<char32_t> out;
    out.reserve(text.size());
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    if (bom == ByteOrderMark::skip && n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) i = 3;
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

}  // namespace babygpt::data

namespace babygpt::detail {

/// A file opened for reading that is known to be a regular file. Anything else (a directory, a FIFO, a
/// device such as /dev/zero, a socket) is refused before a byte is read: the open does not block (a FIFO
/// with no writer would wait forever) and fstat checks the kind of the file that was actually opened.
class RegularFile {
public:
    /// `what` starts every message (e.g. "safetensors::load").
    RegularFile(const std::string& path, std::string what) : path_(path), what_(std::move(what)) {
#ifdef _WIN32
        fd_ = ::_open(path.c_str(), _O_RDONLY | _O_BINARY);
        struct _stat64 info;
        const bool stat_ok = fd_ >= 0 && ::_fstat64(fd_, &info) == 0;
        const bool regular = stat_ok && (info.st_mode & _S_IFMT) == _S_IFREG;
#else
        fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        struct stat info;
        const bool stat_ok = fd_ >= 0 && ::fstat(fd_, &info) == 0;
        const bool regular = stat_ok && S_ISREG(info.st_mode);
#endif
        const std::string reason = std::strerror(errno);
        if (fd_ < 0) throw_error(what_, ": cannot open '", path_, "': ", reason, " (check the path and permissions)");
        if (!stat_ok || !regular) {
            close();  // the destructor does not run when a constructor throws
            if (!stat_ok) fail(": cannot inspect the file: " + reason);
            fail(": not a regular file (" + kind(info.st_mode) + "); pass the path of an ordinary file");
        }
        size_ = static_cast<std::uint64_t>(info.st_size);
    }
    ~RegularFile() { close(); }
    RegularFile(const RegularFile&) = delete;
    RegularFile& operator=(const RegularFile&) = delete;

    /// The size fstat reported when the file was opened.
    std::uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }

    /// Reads exactly n bytes from the current position; throws if the file ends first (it shrank).
    void read_exactly(void* out, std::size_t n) {
        auto* bytes = static_cast<unsigned char*>(out);
        std::size_t done = 0;
        while (done < n) {
            const std::size_t chunk = std::min<std::size_t>(n - done, std::size_t(1) << 30);
#ifdef _WIN32
            const long got = ::_read(fd_, bytes + done, static_cast<unsigned>(chunk));
#else
            const long got = static_cast<long>(::read(fd_, bytes + done, chunk));
#endif
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) fail(": read error after " + std::to_string(done) + " bytes: " + std::strerror(errno));
            if (got == 0)
                fail(": the file ended after " + std::to_string(done) + " of " + std::to_string(n) +
                     " bytes (was it changed while being read?)");
            done += static_cast<std::size_t>(got);
        }
    }

    /// Throws "<what>: '<path>'<message>".
    [[noreturn]] void fail(const std::string& message) const { throw_error(what_, ": '", path_, "'", message); }

private:
    static std::string kind(unsigned mode) {
#ifdef _WIN32
        return (mode & _S_IFMT) == _S_IFDIR ? "a directory" : "a device or pipe";
#else
        if (S_ISDIR(mode)) return "a directory";
        if (S_ISFIFO(mode)) return "a FIFO";
        if (S_ISCHR(mode)) return "a character device";
        if (S_ISBLK(mode)) return "a block device";
        if (S_ISSOCK(mode)) return "a socket";
        return "not a plain file";
#endif
    }
    void close() {
        if (fd_ < 0) return;
#ifdef _WIN32
        ::_close(fd_);
#else
        ::close(fd_);
#endif
        fd_ = -1;
    }

    std::string path_;
    std::string what_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

}  // namespace babygpt::detail

namespace babygpt::data {

/// Text files above this size are refused before reading (2 GiB: far more than a character-level model
/// trains on, and a bound on what a mistaken path such as a disk image can make the program allocate).
inline constexpr std::uint64_t max_text_file_bytes = std::uint64_t(2) << 30;

/// The whole file as bytes. Throws babygpt::Error naming the path if it cannot be opened, is not a
/// regular file (directory, FIFO, device) or holds more than max_text_file_bytes.
inline std::string read_file(const std::string& path) {
    detail::RegularFile file(path, "read_file");
    if (file.size() > max_text_file_bytes)
        file.fail(": the file has " + std::to_string(file.size()) + " bytes, more than the limit of " +
                  std::to_string(max_text_file_bytes) + " bytes (2 GiB) for a text file; use a smaller file");
    std::string bytes;
    try {
        bytes.resize(static_cast<std::size_t>(file.size()));
    } catch (const std::bad_alloc&) {
        file.fail(": out of memory reading " + std::to_string(file.size()) + " bytes");
    }
    file.read_exactly(bytes.data(), bytes.size());
    return bytes;
}

/// A UTF-8 text file (e.g. a training corpus) as code points: read_file, then decode_utf8 with a byte
/// order mark at the start of the file skipped. Errors name the path.
inline std::vector<char32_t> read_utf8_file(const std::string& path) {
    return decode_utf8(read_file(path), path, ByteOrderMark::skip);
}

}  // namespace babygpt::data
