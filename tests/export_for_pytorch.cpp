// Writes a BabyGPT checkpoint and a matching input/logits file for tools/check_export.py, which loads
// the checkpoint into the reference PyTorch model with load_state_dict(strict=True) and compares logits.
//
//   export_for_pytorch <out-dir>   ->   <out-dir>/model.safetensors, <out-dir>/io.safetensors

#include <cstdio>
#include <string>

#include "babygpt/io/checkpoint.hpp"
#include "babygpt/io/state_dict.hpp"
#include "babygpt/models/gpt.hpp"
#include "babygpt/optim/adamw.hpp"
#include "babygpt/instances.hpp"  // with BABYGPT_PRECOMPILED: the model's templates are compiled once

int main(int argc, char** argv) {
    using namespace babygpt;
    if (argc != 2) {
        std::fprintf(stderr, "usage: export_for_pytorch <out-dir>\n");
        return 2;
    }
    const std::string dir = argv[1];
    GPTConfig config;
    config.vocab_size = 17;
    config.block_size = 6;
    config.n_embed = 12;
    config.n_head = 3;
    config.n_layer = 2;
    config.dropout = 0.1;
    Generator gen(5);
    GPT<float> model(config, gen);

    // A few training steps, so the exported weights are not just the initialisation.
    const IndexTensor x = IndexTensor::rand({4, 6}, gen, 0, 17);
    const IndexTensor y = IndexTensor::rand({4, 6}, gen, 0, 17);
    optim::AdamW<float> optimizer(model.parameters(), {1e-2});
    for (int step = 0; step < 3; ++step) {
        const Tensorf loss = model.forward(x, y).loss;
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
    }
    io::save_state_dict(dir + "/model.safetensors", model, io::config_metadata(config));

    model.eval();
    const GPTOutput<float> out = model.forward(x, y);
    safetensors::Contents io_file;
    io_file.tensors["input.idx"] = safetensors::from_tensor(x);
    io_file.tensors["input.targets"] = safetensors::from_tensor(y);
    io_file.tensors["output.logits"] = safetensors::from_tensor(out.logits);
    io_file.tensors["output.loss"] = safetensors::from_tensor(out.loss);
    safetensors::save(dir + "/io.safetensors", io_file);
    std::printf("wrote %s/model.safetensors and %s/io.safetensors\n", dir.c_str(), dir.c_str());
    return 0;
}
