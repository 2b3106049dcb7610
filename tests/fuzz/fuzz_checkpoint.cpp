// libFuzzer target: loading a model checkpoint from bytes, as the trainer does: parse, the configuration
// from the metadata checked against the file's tensors, build the GPT, load the state_dict, then one
// forward step. A file must never make the library allocate more than it holds (libFuzzer's
// -malloc_limit_mb reports any allocation above its limit as a crash).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "babygpt/io/checkpoint.hpp"
#include "babygpt/io/safetensors.hpp"
#include "babygpt/io/state_dict.hpp"
#include "babygpt/models/gpt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string source = "fuzz.safetensors";
    try {
        const babygpt::safetensors::Contents contents = babygpt::safetensors::parse(data, size, source);
        const babygpt::GPTConfig config = babygpt::io::config_from_checkpoint(contents, source);
        babygpt::Generator gen(1);
        babygpt::GPT<float> model(config, gen);
        babygpt::io::load_state_dict(model, contents, source);
        babygpt::IndexTensor idx = babygpt::IndexTensor::zeros({1, 1});
        (void)model.forward(idx);
    } catch (const babygpt::Error& e) {
        if (std::string(e.what()).find('\n') != std::string::npos) std::abort();
    }
    return 0;
}
