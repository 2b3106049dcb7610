#pragma once
// Input files are checked with stat() before they are opened: a directory, a FIFO (opening one for
// reading blocks until a writer comes), a device such as /dev/zero (endless) or a file too large to
// be what the option expects is refused with a message, instead of blocking or reading until memory
// runs out.

#include <cstdint>
#include <string>

namespace babygpt_cli {

/// The largest --data file: 1 GiB. A character-level model needs far less, and the tokens of a text
/// take about 12 bytes per character in memory, so a larger file is almost surely a mistaken path.
inline constexpr std::uint64_t max_data_bytes = std::uint64_t(1) << 30;

/// The largest --config file: 1 MiB (a configuration is a few lines).
inline constexpr std::uint64_t max_config_bytes = std::uint64_t(1) << 20;

/// Throws babygpt::Error unless `path` is an existing regular file (symbolic links are followed) of at
/// most `max_bytes`; returns its size. `kind` names it in the "no such <kind>" message (e.g. "file",
/// "checkpoint file"), `option` names the option in the size limit's message (e.g. "--data"), `fix` ends
/// the other messages (e.g. "pass a UTF-8 text file with --data").
std::uint64_t check_input_file(const std::string& path, const char* kind, const char* option, const std::string& fix,
                               std::uint64_t max_bytes = UINT64_MAX);

/// The corpus that trains when --data is not given: data/default.txt, from where `cmake --install` puts
/// it (<prefix>/share/babygpt/default.txt, found next to the program's own <prefix>/bin), or else from
/// the source tree the program was built from.
std::string default_data_path();

/// A size for a message: "512 bytes", "3.2 MiB", "1.5 GiB".
std::string format_bytes(std::uint64_t bytes);

/// A text file's bytes, read after check_input_file(path, "file", option, fix, max_bytes).
std::string read_small_text_file(const std::string& path, const char* option, const std::string& fix,
                                 std::uint64_t max_bytes);

}  // namespace babygpt_cli
