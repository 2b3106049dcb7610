#include "sample.hpp"

#include <cmath>
#include <cstdio>
#include <memory>

#include <babygpt/threads.hpp>

#include "activity.hpp"
#include "progress.hpp"
#include "run_files.hpp"
#include "sampling.hpp"
#include "signals.hpp"
#include "threads_option.hpp"

namespace babygpt_cli {

namespace {

/// Loads a checkpoint and rebuilds its model; every problem with the file is reported by name.
struct LoadedModel {
    LoadedCheckpoint checkpoint;
    std::unique_ptr<babygpt::GPT<float>> model;
};

LoadedModel load_model(const std::string& path) {
    Activity activity("loading the checkpoint", "free some memory (loading needs about twice the file's size)");
    StatusLine status(stdout_is_terminal());
    status.show("loading " + path + "...", true);
    LoadedModel loaded{load_checkpoint(path, "--checkpoint"), nullptr};
    const CheckpointInfo& info = loaded.checkpoint.info;
    babygpt::Generator gen(info.settings.seed);
    loaded.model = std::make_unique<babygpt::GPT<float>>(info.settings.model_config(info.vocabulary.size()), gen);
    load_weights(*loaded.model, loaded.checkpoint, path);
    loaded.model->eval();
    return loaded;
}

}  // namespace

int run_sample(const SampleRequest& request) {
    BABYGPT_CHECK(request.max_new_tokens >= 0, "--max-new-tokens must be >= 0, got ", request.max_new_tokens);
    BABYGPT_CHECK(request.temperature > 0 && std::isfinite(request.temperature), "--temperature must be positive, got ",
                  request.temperature);
    BABYGPT_CHECK(request.top_k >= 0, "--top-k must be >= 0 (0 = all tokens), got ", request.top_k);
    check_threads(request.threads);
    BABYGPT_CHECK(!request.checkpoint.empty(), "pass the checkpoint file: babygpt sample runs/x.safetensors");
    babygpt::set_num_threads(request.threads);
    InterruptGuard interrupt_guard;
    const LoadedModel loaded = load_model(request.checkpoint);
    const babygpt::data::Vocabulary& vocabulary = loaded.checkpoint.info.vocabulary;
    const std::vector<std::string> prompts = request.prompts.empty() ? std::vector<std::string>{"\n"} : request.prompts;
    for (const std::string& prompt : prompts) encode_prompt(vocabulary, prompt);  // all valid before any output
    babygpt::SamplingOptions options;
    options.temperature = request.temperature;
    options.top_k = request.top_k;
    babygpt::Generator gen(request.seed);
    Activity activity("sampling", "try a smaller --max-new-tokens");
    try {
        for (std::size_t i = 0; i < prompts.size(); ++i) {
            throw_if_interrupted();
            if (i > 0) std::fputs("\n", stdout);
            stream_sample(*loaded.model, vocabulary, prompts[i], request.max_new_tokens, options, gen);
        }
    } catch (const Interrupted&) {
        std::fflush(stdout);
        return interrupted_exit_code();
    }
    return 0;
}

int run_info(const std::string& path) {
    BABYGPT_CHECK(!path.empty(), "pass the checkpoint file: babygpt info runs/x.safetensors");
    const LoadedModel loaded = load_model(path);
    const CheckpointInfo& info = loaded.checkpoint.info;
    const TrainSettings& s = info.settings;
    std::printf("checkpoint:     %s\n", path.c_str());
    std::printf("data:           %s\n", info.data_path.c_str());
    std::printf("vocab size:     %lld\n", static_cast<long long>(info.vocabulary.size()));
    // The LayerNorm placement only when it is not the reference's.
    const std::string norm = s.norm == "pre" ? "" : ", norm " + s.norm;
    std::printf("model:          block_size %lld, n_embed %lld, n_head %lld, n_layer %lld, dropout %g%s\n",
                static_cast<long long>(s.block_size), static_cast<long long>(s.n_embed),
                static_cast<long long>(s.n_head), static_cast<long long>(s.n_layer), s.dropout, norm.c_str());
    std::printf("parameters:     %lld\n", static_cast<long long>(loaded.model->parameter_count()));
    std::printf("training:       preset %s, batch_size %lld, learning_rate %g, max_iters %lld, eval_interval %lld, "
                "eval_iters %lld, train_ratio %g, seed %llu\n",
                s.preset.c_str(), static_cast<long long>(s.batch_size), s.learning_rate,
                static_cast<long long>(s.max_iters), static_cast<long long>(s.eval_interval),
                static_cast<long long>(s.eval_iters), s.train_ratio, static_cast<unsigned long long>(s.seed));
    std::printf("step:           %lld\n", static_cast<long long>(info.step));
    if (info.evaluated_step < 0 && !info.imported_from.empty())
        std::printf("last losses:    none yet (imported from %s, not evaluated by babygpt)\n", info.imported_from.c_str());
    else if (info.evaluated_step < 0)
        std::printf("last losses:    none yet (interrupted before its first evaluation)\n");
    else
        std::printf("last losses:    train %.4f, val %.4f (evaluated at step %lld)\n", info.train_loss, info.val_loss,
                    static_cast<long long>(info.evaluated_step));
    return 0;
}

}  // namespace babygpt_cli
