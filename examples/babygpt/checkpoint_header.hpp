#pragma once
// A checkpoint's header, read without its tensors: the first check of a checkpoint file (so that a
// huge or endless file that is not one is refused after 8 bytes, not after reading it all), and the
// step of an existing checkpoint for the message that refuses to replace it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace babygpt_cli {

/// Throws babygpt::Error unless `path` is a regular file that starts like a safetensors file: an
/// 8-byte header size within the limit and the file, then a JSON object. `option` names where the path
/// came from (e.g. "--resume") for the message when the file is not a regular file.
void check_checkpoint_file(const std::string& path, const char* option);

/// The "__metadata__" of a safetensors file's header; nullopt if the file is not one (or unreadable).
std::optional<std::map<std::string, std::string>> read_header_metadata(const std::string& path);

}  // namespace babygpt_cli
