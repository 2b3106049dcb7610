#include "sampling.hpp"

#include <cstdio>

#include <babygpt/data/utf8.hpp>

#include "errors.hpp"
#include "signals.hpp"

namespace babygpt_cli {

std::vector<std::string> default_prompts(const babygpt::data::Vocabulary& vocabulary) {
    const std::vector<std::string> reference = {"春江", "往事"};
    bool all_known = true;
    for (const std::string& prompt : reference)
        for (char32_t c : babygpt::data::decode_utf8(prompt)) all_known = all_known && vocabulary.contains(c);
    if (all_known) return reference;
    if (vocabulary.contains(U'\n')) return {"\n"};
    // A text without newlines: start from its first (smallest) character.
    return {babygpt::data::encode_utf8({vocabulary.chars().front()})};
}

std::vector<std::int64_t> encode_prompt(const babygpt::data::Vocabulary& vocabulary, const std::string& prompt) {
    std::vector<std::int64_t> ids;
    try {
        ids = vocabulary.encode(babygpt::data::decode_utf8(prompt, "the prompt"));
    } catch (const babygpt::Error& e) {
        fail("prompt \"", prompt, "\": ", e.what());
    }
    BABYGPT_CHECK(!ids.empty(), "the prompt is empty; give at least one character (e.g. --prompt \"The \")");
    return ids;
}

void stream_sample(const babygpt::GPT<float>& model, const babygpt::data::Vocabulary& vocabulary,
                   const std::string& prompt, std::int64_t max_new_tokens, const babygpt::SamplingOptions& options,
                   babygpt::Generator& gen) {
    const std::vector<std::int64_t> ids = encode_prompt(vocabulary, prompt);
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
    const auto length = static_cast<std::int64_t>(ids.size());
    model.generate(babygpt::IndexTensor::from_data({1, length}, ids), max_new_tokens, gen, options,
                   [&](std::int64_t, std::int64_t token) {
                       std::fputs(vocabulary.decode({token}).c_str(), stdout);
                       std::fflush(stdout);
                       if (interrupt_signal() != 0) {
                           std::fputs("\n", stdout);
                           throw Interrupted{};
                       }
                   });
    std::fputs("\n", stdout);
}

}  // namespace babygpt_cli
