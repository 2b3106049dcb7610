#pragma once
// Text generation for the command line: prompts checked against the vocabulary, tokens streamed as
// they are drawn.

#include <string>
#include <vector>

#include <babygpt/data/vocabulary.hpp>
#include <babygpt/models/gpt.hpp>
#include <babygpt/instances.hpp>  // with BABYGPT_PRECOMPILED: the model's templates are compiled once

namespace babygpt_cli {

/// The reference's prompts "春江" and "往事" when the vocabulary has all their characters, else a newline.
std::vector<std::string> default_prompts(const babygpt::data::Vocabulary& vocabulary);

/// The prompt's token ids; an empty prompt or characters outside the vocabulary are errors naming them.
std::vector<std::int64_t> encode_prompt(const babygpt::data::Vocabulary& vocabulary, const std::string& prompt);

/// Prints the prompt, then each new character as soon as it is sampled, then a newline.
/// A prompt with characters outside the vocabulary is an error listing them. A signal caught by an
/// InterruptGuard ends the line and throws Interrupted after the current character.
void stream_sample(const babygpt::GPT<float>& model, const babygpt::data::Vocabulary& vocabulary,
                   const std::string& prompt, std::int64_t max_new_tokens, const babygpt::SamplingOptions& options,
                   babygpt::Generator& gen);

}  // namespace babygpt_cli
