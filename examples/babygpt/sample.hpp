#pragma once
// `babygpt sample` and `babygpt info`: use a checkpoint written by `babygpt train`.

#include <cstdint>
#include <string>
#include <vector>

namespace babygpt_cli {

struct SampleRequest {
    std::string checkpoint;
    std::vector<std::string> prompts;  // empty: a newline
    std::int64_t max_new_tokens = 200;
    double temperature = 1.0;
    std::int64_t top_k = 0;
    std::uint64_t seed = 42;
    int threads = 1;                   // main() sets the default: available_cores()
};

int run_sample(const SampleRequest& request);
int run_info(const std::string& checkpoint);

}  // namespace babygpt_cli
