// Tests for reference_mode.hpp: the fast paths against the plain compositions they stand for, at the
// shapes the presets run (head sizes 8 to 64, contexts 1 to 256, the narrow output layer), for values
// and gradients, in double (1e-12) and in float against double (1e-5 relative), at several thread
// counts.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "babygpt/babygpt.hpp"
#include "helpers.hpp"

namespace {

using babygpt::GPT;
using babygpt::GPTConfig;
using babygpt::IndexTensor;
using babygpt::Tensor;

/// The loss and every parameter's gradient of one training step, as doubles.
struct ReferenceModeStep {
    double loss = 0;
    std::map<std::string, std::vector<double>> grads;
};

IndexTensor reference_mode_tokens(std::int64_t B, std::int64_t T, std::int64_t vocab, std::uint64_t seed) {
    IndexTensor ids = IndexTensor::empty({B, T});
    babygpt::Generator gen(seed);
    for (std::int64_t i = 0; i < ids.numel(); ++i) ids.data()[i] = gen.randint(vocab);
    return ids;
}

/// One loss and backward of `model` on fixed tokens; `fused_loss` chooses GPT::loss (the fused output
/// layer) or forward(idx, targets).loss.
template <typename S>
ReferenceModeStep reference_mode_step(GPT<S>& model, const IndexTensor& x, const IndexTensor& y, bool fused_loss) {
    for (auto& [name, p] : model.named_parameters()) p.zero_grad();
    Tensor<S> loss = fused_loss ? model.loss(x, y) : model.forward(x, y).loss;
    loss.backward();
    ReferenceModeStep step;
    step.loss = static_cast<double>(loss.item());
    for (auto& named : model.named_parameters()) {
        const std::string& name = named.first;  // not a structured binding: doctest's macros capture it
        const Tensor<S> g = named.second.grad();
        REQUIRE_MESSAGE(g.defined(), name, " has no gradient");
        step.grads[name].assign(g.data(), g.data() + g.numel());
    }
    return step;
}

/// Largest |a - b| over the loss and every gradient, relative to the largest |b| of each tensor.
double reference_mode_difference(const ReferenceModeStep& a, const ReferenceModeStep& b) {
    double worst = std::abs(a.loss - b.loss) / std::max(1.0, std::abs(b.loss));
    for (const auto& named : b.grads) {
        const std::vector<double>& gb = named.second;
        const auto& ga = a.grads.at(named.first);
        REQUIRE(ga.size() == gb.size());
        double scale = 1e-30, diff = 0;
        for (std::size_t i = 0; i < gb.size(); ++i) {
            scale = std::max(scale, std::abs(gb[i]));
            diff = std::max(diff, std::abs(ga[i] - gb[i]));
        }
        worst = std::max(worst, diff / scale);
    }
    return worst;
}

GPTConfig reference_mode_config(std::int64_t vocab, std::int64_t block, std::int64_t C, std::int64_t heads) {
    GPTConfig config;
    config.vocab_size = vocab;
    config.block_size = block;
    config.n_embed = C;
    config.n_head = heads;
    config.n_layer = 2;
    config.dropout = 0.0;
    return config;
}

/// The names of the ops whose forward ran during f() (the profiler times each under its name).
template <typename F>
std::set<std::string> reference_mode_ops_run(F&& f) {
    babygpt::profiler::reset();
    babygpt::profiler::enable(true);
    f();
    babygpt::profiler::enable(false);
    std::set<std::string> ops;
    for (const auto& [op, seconds] : babygpt::profiler::totals().forward) ops.insert(op);
    babygpt::profiler::reset();
    return ops;
}

struct ReferenceModeShape {
    std::int64_t head_size, n_head, T;
};

/// causal_self_attention's output and qkv's gradient after two uses in one graph,
/// sum(out1 * w1) + sum(out2 * w2): the second backward adds to the gradient the first one assigned.
/// The dropout masks come from a generator seeded alike in every call, so both modes see the same ones.
struct AttentionGridResult {
    std::vector<double> out, grad;
};

template <typename S>
std::vector<double> attention_grid_doubles(const Tensor<S>& t) {
    return std::vector<double>(t.data(), t.data() + t.numel());
}

template <typename S>
Tensor<S> attention_grid_cast(const Tensor<double>& t) {
    Tensor<S> out = Tensor<S>::empty(t.shape());
    for (std::int64_t i = 0; i < t.numel(); ++i) out.data()[i] = static_cast<S>(t.data()[i]);
    return out;
}

template <typename S>
AttentionGridResult attention_grid_run(const Tensor<double>& qkv_double, const Tensor<double>& w1,
                                       const Tensor<double>& w2, std::int64_t n_head, double dropout_p) {
    Tensor<S> qkv = attention_grid_cast<S>(qkv_double).requires_grad_();
    babygpt::Generator gen(7);
    const Tensor<S> out = babygpt::causal_self_attention(qkv, n_head, dropout_p, true, gen);
    const Tensor<S> again = babygpt::causal_self_attention(qkv, n_head, dropout_p, true, gen);
    (babygpt::sum(out * attention_grid_cast<S>(w1)) + babygpt::sum(again * attention_grid_cast<S>(w2))).backward();
    return {attention_grid_doubles(out), attention_grid_doubles(qkv.grad())};
}

/// max |a - b| / max |b|, over one vector.
double attention_grid_relative(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double diff = 0, scale = 1e-30;
    for (std::size_t i = 0; i < b.size(); ++i) {
        diff = std::max(diff, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(b[i]));
    }
    return diff / scale;
}

}  // namespace

TEST_CASE("ReferenceMode: the guard sets the flag for its scope and restores it") {
    CHECK_FALSE(babygpt::ReferenceMode::is_enabled());
    {
        babygpt::ReferenceModeGuard outer;
        CHECK(babygpt::ReferenceMode::is_enabled());
        {
            babygpt::ReferenceModeGuard inner;
            CHECK(babygpt::ReferenceMode::is_enabled());
        }
        CHECK(babygpt::ReferenceMode::is_enabled());
    }
    CHECK_FALSE(babygpt::ReferenceMode::is_enabled());
}

TEST_CASE("ReferenceMode: the whole model, fused against the plain composition, head sizes 8-64, T 1-256, double") {
    // Head sizes 8/16/32/64 have their own attention kernels; T <= 32 takes the loop kernels, longer
    // contexts the blocked GEMMs (T = 33 is the first, 256 is v11's).
    std::vector<ReferenceModeShape> shapes;
    for (const std::int64_t head_size : {8, 16, 32, 64})
        for (const std::int64_t T : {1, 8, 33, 256}) shapes.push_back({head_size, head_size == 8 ? 4 : 2, T});
    for (const ReferenceModeShape& shape : shapes) {
        const std::int64_t C = shape.head_size * shape.n_head, vocab = 37, B = shape.T >= 256 ? 1 : 3;
        CAPTURE(shape.head_size);
        CAPTURE(shape.T);
        babygpt::Generator gen(11);
        GPT<double> model(reference_mode_config(vocab, std::max<std::int64_t>(shape.T, 8), C, shape.n_head), gen);
        const IndexTensor x = reference_mode_tokens(B, shape.T, vocab, 1), y = reference_mode_tokens(B, shape.T, vocab, 2);
        for (const bool fused_loss : {true, false}) {
            const ReferenceModeStep fast = reference_mode_step(model, x, y, fused_loss);
            ReferenceModeStep plain;
            {
                babygpt::ReferenceModeGuard reference;
                plain = reference_mode_step(model, x, y, fused_loss);
            }
            CHECK(reference_mode_difference(fast, plain) < 1e-12);
        }
    }
}

TEST_CASE("ReferenceMode: float fast paths against the double reference, within 1e-5, at 1, 2, 3 and 8 threads") {
    // v9's shape (head size 8, C = 32: the narrow output-layer kernels in float), and a v11-like head
    // size of 64 over a long context.
    const std::vector<ReferenceModeShape> shapes = {{8, 4, 8}, {64, 2, 40}};
    const int threads_before = babygpt::num_threads();
    for (const ReferenceModeShape& shape : shapes) {
        const std::int64_t C = shape.head_size * shape.n_head, vocab = 65, B = 4;
        CAPTURE(shape.head_size);
        const GPTConfig config = reference_mode_config(vocab, shape.T, C, shape.n_head);
        babygpt::Generator gen_double(5), gen_float(5);
        GPT<double> reference_model(config, gen_double);
        GPT<float> model(config, gen_float);
        // The same weights in both precisions.
        auto source = reference_model.named_parameters();
        auto target = model.named_parameters();
        for (std::size_t i = 0; i < source.size(); ++i)
            for (std::int64_t j = 0; j < source[i].second.numel(); ++j)
                target[i].second.data()[j] = static_cast<float>(source[i].second.data()[j]);
        const IndexTensor x = reference_mode_tokens(B, shape.T, vocab, 3), y = reference_mode_tokens(B, shape.T, vocab, 4);
        ReferenceModeStep plain;
        {
            babygpt::ReferenceModeGuard reference;
            plain = reference_mode_step(reference_model, x, y, false);
        }
        for (const int threads : {1, 2, 3, 8}) {
            CAPTURE(threads);
            babygpt::set_num_threads(threads);
            CHECK(reference_mode_difference(reference_mode_step(model, x, y, true), plain) < 1e-5);
        }
    }
    babygpt::set_num_threads(threads_before);
}

TEST_CASE("ReferenceMode: the fused ops do not run under the guard; their plain compositions do") {
    babygpt::Generator gen(3);
    GPT<double> model(reference_mode_config(29, 8, 32, 4), gen);
    const IndexTensor x = reference_mode_tokens(2, 8, 29, 1), y = reference_mode_tokens(2, 8, 29, 2);
    const std::set<std::string> fast = reference_mode_ops_run([&] { model.loss(x, y).backward(); });
    const std::set<std::string> plain = reference_mode_ops_run([&] {
        babygpt::ReferenceModeGuard reference;
        model.loss(x, y).backward();
    });
    CHECK(fast.count("causal_self_attention") == 1);
    CHECK(fast.count("linear_cross_entropy") == 1);
    CHECK(fast.count("layer_norm") == 1);
    CHECK(plain.count("causal_self_attention") == 0);
    CHECK(plain.count("linear_cross_entropy") == 0);
    CHECK(plain.count("layer_norm") == 0);
    CHECK(plain.count("matmul") == 1);  // Head::forward's q k^T and P v
    CHECK(plain.count("linear") == 1);
}

TEST_CASE("ReferenceMode: linear_cross_entropy equals cross_entropy(linear(...)), narrow C, values and gradients") {
    babygpt::Generator gen(3);
    const std::int64_t N = 300, C = 32, V = 101;
    Tensor<double> x = Tensor<double>::randn({N, C}, gen).requires_grad_();
    Tensor<double> w = Tensor<double>::randn({V, C}, gen).requires_grad_();
    Tensor<double> b = Tensor<double>::randn({V}, gen).requires_grad_();
    IndexTensor t = IndexTensor::empty({N});
    for (std::int64_t i = 0; i < N; ++i) t.data()[i] = (i * 37) % V;
    auto run = [&] {
        for (auto* p : {&x, &w, &b}) p->zero_grad();
        Tensor<double> loss = babygpt::linear_cross_entropy(x, w, b, t);
        loss.backward();
        ReferenceModeStep step;
        step.loss = loss.item();
        step.grads["x"].assign(x.grad().data(), x.grad().data() + x.numel());
        step.grads["w"].assign(w.grad().data(), w.grad().data() + w.numel());
        step.grads["b"].assign(b.grad().data(), b.grad().data() + b.numel());
        return step;
    };
    const ReferenceModeStep fused = run();
    ReferenceModeStep plain;
    {
        babygpt::ReferenceModeGuard reference;
        plain = run();
    }
    CHECK(reference_mode_difference(fused, plain) < 1e-12);
}

TEST_CASE("ReferenceMode: causal_self_attention, head sizes 8-64 x T 1-256, with and without dropout") {
    // The attention op on its own, against its composition (each head's matmul, causal_mask, softmax,
    // P' = P * M with the same hashed mask, matmul with V, concat): in double within 1e-12, and in float
    // at 1, 2, 3 and 8 threads against the double reference within 1e-5.
    const int threads_before = babygpt::num_threads();
    for (const std::int64_t head_size : {8, 16, 32, 64}) {
        for (const std::int64_t T : {1, 8, 33, 256}) {
            for (const double dropout_p : {0.0, 0.25}) {
                CAPTURE(head_size);
                CAPTURE(T);
                CAPTURE(dropout_p);
                const std::int64_t n_head = 2, C = head_size * n_head, B = T >= 256 ? 1 : 2;
                babygpt::Generator data(static_cast<std::uint64_t>(head_size * 1000 + T));
                const Tensor<double> qkv = Tensor<double>::randn({B, T, 3 * C}, data);
                const Tensor<double> w1 = Tensor<double>::randn({B, T, C}, data);
                const Tensor<double> w2 = Tensor<double>::randn({B, T, C}, data);
                AttentionGridResult plain;
                {
                    babygpt::ReferenceModeGuard reference;
                    plain = attention_grid_run<double>(qkv, w1, w2, n_head, dropout_p);
                }
                const AttentionGridResult fast = attention_grid_run<double>(qkv, w1, w2, n_head, dropout_p);
                CHECK(attention_grid_relative(fast.out, plain.out) < 1e-12);
                CHECK(attention_grid_relative(fast.grad, plain.grad) < 1e-12);
                for (const int threads : {1, 2, 3, 8}) {
                    CAPTURE(threads);
                    babygpt::set_num_threads(threads);
                    const AttentionGridResult single = attention_grid_run<float>(qkv, w1, w2, n_head, dropout_p);
                    CHECK(attention_grid_relative(single.out, plain.out) < 1e-5);
                    CHECK(attention_grid_relative(single.grad, plain.grad) < 1e-5);
                }
                babygpt::set_num_threads(threads_before);
            }
        }
    }
}

TEST_CASE("ReferenceMode: attention dropout is P' = P * M with the op's own mask") {
    // With dropout, the composition's P' must be the fused op's: some entries of P dropped, the rest
    // scaled by 1 / (1 - p). Checked on the output: it differs from the output without dropout, and
    // equals the fused op's with the same generator seed (the grid above checks the values closely).
    babygpt::Generator data(3);
    const Tensor<double> qkv = Tensor<double>::randn({2, 8, 3 * 16}, data);
    babygpt::Generator g1(5), g2(5), g3(5);
    const Tensor<double> fused = babygpt::causal_self_attention(qkv, 2, 0.5, true, g1);
    babygpt::ReferenceModeGuard reference;
    const Tensor<double> plain = babygpt::causal_self_attention(qkv, 2, 0.5, true, g2);
    const Tensor<double> undropped = babygpt::causal_self_attention(qkv, 2, 0.0, true, g3);
    CHECK(attention_grid_relative(attention_grid_doubles(plain), attention_grid_doubles(fused)) < 1e-12);
    CHECK(attention_grid_relative(attention_grid_doubles(plain), attention_grid_doubles(undropped)) > 1e-3);
    CHECK(g1.state() == g2.state());  // one draw each: the mask's key
}
