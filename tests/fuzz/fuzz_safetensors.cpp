// libFuzzer target: safetensors::parse on arbitrary bytes. Anything it accepts must serialize and parse
// back to the same contents; anything it refuses must be a one-line babygpt::Error.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "babygpt/io/safetensors.hpp"

namespace st = babygpt::safetensors;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    st::Contents contents;
    try {
        contents = st::parse(data, size, "fuzz.safetensors");
    } catch (const babygpt::Error& e) {
        if (std::string(e.what()).find('\n') != std::string::npos) std::abort();  // messages are one line
        return 0;
    }
    const st::Contents again = st::parse(st::serialize(contents), "rewritten");
    if (again.metadata != contents.metadata || again.tensors.size() != contents.tensors.size()) std::abort();
    for (const auto& [name, entry] : contents.tensors) {
        const st::Entry& other = again.tensors.at(name);
        if (other.dtype != entry.dtype || other.shape != entry.shape || other.data != entry.data) std::abort();
    }
    return 0;
}
