// A program that uses the main API through the umbrella header, so that the header compile matrix
// (check_headers.cmake) instantiates the templates a consumer would: tensor ops and backward,
// GPT<float> forward, loss and generate, AdamW and SGD steps, and a safetensors round trip.
// It is compiled, not run.

#include "babygpt/babygpt.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace {

/// The ops the model does not use itself, and backward. (float only: a second scalar type would
/// instantiate everything again and double the compile time of the matrix for no new warnings.)
float tensor_ops(babygpt::Generator& gen) {
    using namespace babygpt;
    Tensorf x = Tensorf::randn({2, 3, 4}, gen);                  // (B, T, C)
    Tensorf w = Tensorf::randn({4, 5}, gen).requires_grad_();    // (C, 5)
    Tensorf b = Tensorf::zeros({5}).requires_grad_();            // (5,)
    Tensorf h = gelu(linear(x, transpose(w), b));                 // (B, T, 5)
    Tensorf y = softmax(h) * tanh(h) + exp(mul_scalar(h, 0.1f)) / 2.0f;
    Tensorf z = concat(std::vector<Tensorf>{reshape(y, {6, 5}), relu(reshape(h, {6, 5}))});  // (6, 10)
    Tensorf loss = mean(sum(log_softmax(z), -1)) - sum(layer_norm(z, Tensorf::ones({10}), Tensorf::zeros({10})));
    loss.backward();
    {
        NoGradGuard no_grad;
        y = matmul(x, w);
    }
    return loss.item() + w.grad().data()[0] + static_cast<float>(w.version());
}

}  // namespace

int main() {
    using namespace babygpt;
    Generator gen(1);
    set_num_threads(1);
    const float f = tensor_ops(gen);

    GPTConfig config;
    config.vocab_size = 7;
    config.block_size = 4;
    config.n_embed = 8;
    config.n_head = 2;
    config.n_layer = 1;
    GPT<float> model(config, gen);
    IndexTensor idx = IndexTensor::from_data({1, 4}, {1, 2, 3, 4});
    IndexTensor targets = IndexTensor::from_data({1, 4}, {2, 3, 4, 5});

    optim::AdamW<float> adamw(model.parameters());
    adamw.zero_grad();
    GPTOutput<float> out = model.forward(idx, targets);  // logits (1, 4, 7) and the loss
    out.loss.backward();
    adamw.step();
    adamw.zero_grad();
    model.loss(idx, targets).backward();  // the fused lm_head + cross-entropy
    adamw.step();
    optim::SGD<float> sgd(model.parameters(), {});
    sgd.step();

    model.eval();
    const IndexTensor generated = model.generate(idx, 2, gen);

    io::save_state_dict("/nonexistent-dir/model.safetensors", model, io::config_metadata(config));
    const safetensors::Contents contents = safetensors::load("/nonexistent-dir/model.safetensors");
    io::load_state_dict(model, contents, "model.safetensors");
    const Tensor<float> wte = safetensors::get<float>(contents, "token_embedding_table.weight");

    return static_cast<int>(f + static_cast<float>(generated.numel()) + wte.item());
}
