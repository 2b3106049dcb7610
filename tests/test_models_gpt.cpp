// Tests for models/gpt.hpp: GPTConfig validation, the reference's state_dict names, shapes and order,
// parameter counts, initialisation, forward (shapes, loss, errors), a gradcheck of the whole model's
// loss, train()/eval(), zero_grad and generate() (shape, range, cropping, seeding, greedy top_k = 1,
// sampling distribution, streaming callback and argument validation).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/models/gpt.hpp"
#include "babygpt/optim/adamw.hpp"

#include "gpt_helpers.hpp"
#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

GPTConfig v9_config() {
    GPTConfig c;  // the defaults are the v9 preset
    c.vocab_size = 65;
    return c;
}

IndexTensor random_ids(const Shape& shape, std::int64_t vocab, Generator& gen) {
    IndexTensor t = IndexTensor::empty(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = gen.randint(vocab);
    return t;
}

std::string error_message(const GPTConfig& c) {
    try {
        c.validate();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::int64_t argmax(const double* v, std::int64_t n) {
    return static_cast<std::int64_t>(std::max_element(v, v + n) - v);
}

// The last position's logits for the last min(len, block_size) tokens of `row`, computed directly.
std::vector<double> last_logits(const GPT<double>& model, const std::vector<std::int64_t>& row) {
    const std::int64_t len = std::min<std::int64_t>(static_cast<std::int64_t>(row.size()), model.config.block_size);
    const IndexTensor ctx = IndexTensor::from_data({1, len}, std::vector<std::int64_t>(row.end() - len, row.end()));
    NoGradGuard no_grad;
    const Tensord logits = model.forward(ctx).logits;
    const std::int64_t V = model.config.vocab_size;
    return std::vector<double>(logits.data() + (len - 1) * V, logits.data() + len * V);
}

}  // namespace

// ---- configuration --------------------------------------------------------------------------------

TEST_CASE("GPTConfig: defaults are the reference's v9 preset") {
    const GPTConfig c;
    CHECK(c.vocab_size == 0);
    CHECK(c.block_size == 8);
    CHECK(c.n_embed == 32);
    CHECK(c.n_head == 4);
    CHECK(c.n_layer == 3);
    CHECK(c.dropout == 0.0);
    CHECK_NOTHROW(v9_config().validate());
    CHECK_NOTHROW(tiny_config(0.99).validate());
}

TEST_CASE("GPTConfig::validate: n_embed not divisible by n_head names both") {
    GPTConfig c = v9_config();
    c.n_embed = 30;
    c.n_head = 4;
    CHECK_THROWS_AS(c.validate(), Error);
    const std::string message = error_message(c);
    CHECK(contains(message, "n_embed (30)"));
    CHECK(contains(message, "n_head (4)"));
    CHECK(contains(message, "divisible"));
}

TEST_CASE("GPTConfig::validate: zero or negative sizes are refused, naming the field") {
    struct Case {
        const char* field;
        void (*apply)(GPTConfig&);
    };
    const std::vector<Case> cases{
        {"vocab_size", [](GPTConfig& c) { c.vocab_size = 0; }},
        {"vocab_size", [](GPTConfig& c) { c.vocab_size = -5; }},
        {"block_size", [](GPTConfig& c) { c.block_size = 0; }},
        {"block_size", [](GPTConfig& c) { c.block_size = -1; }},
        {"n_embed", [](GPTConfig& c) { c.n_embed = 0; }},
        {"n_embed", [](GPTConfig& c) { c.n_embed = -32; }},
        {"n_head", [](GPTConfig& c) { c.n_head = 0; }},
        {"n_head", [](GPTConfig& c) { c.n_head = -2; }},
        {"n_layer", [](GPTConfig& c) { c.n_layer = 0; }},
        {"n_layer", [](GPTConfig& c) { c.n_layer = -3; }},
    };
    for (const Case& k : cases) {
        CAPTURE(k.field);
        GPTConfig c = v9_config();
        k.apply(c);
        CHECK_THROWS_AS(c.validate(), Error);
        const std::string message = error_message(c);
        CHECK(contains(message, k.field));
        CHECK(contains(message, "positive"));
    }
}

TEST_CASE("GPTConfig::validate: dropout must be at least 0 and below 1") {
    for (double p : {1.0, -0.1, 1.5}) {
        CAPTURE(p);
        GPTConfig c = v9_config();
        c.dropout = p;
        CHECK_THROWS_AS(c.validate(), Error);
        CHECK(contains(error_message(c), "dropout"));
    }
    GPTConfig c = v9_config();
    c.dropout = std::nan("");
    CHECK_THROWS_AS(c.validate(), Error);
}

TEST_CASE("GPT: constructing from an invalid config throws") {
    Generator gen(1);
    GPTConfig c = tiny_config();
    c.n_head = 3;  // 8 % 3 != 0
    CHECK_THROWS_AS(GPT<float>(c, gen), Error);
    c = tiny_config();
    c.vocab_size = 0;
    CHECK_THROWS_AS(GPT<float>(c, gen), Error);
}

// ---- names, shapes, counts ------------------------------------------------------------------------

TEST_CASE("GPT: named_parameters are the reference state_dict keys, shapes and order") {
    Generator gen(2);
    GPT<float> model(tiny_config(), gen);
    // [(n, tuple(p.shape)) for n, p in build_model(7, dict(block_size=5, n_embed=8, n_head=2,
    //  n_layer=2)).named_parameters()] from tools/reference_model.py
    const std::vector<std::pair<std::string, Shape>> expected{
        {"token_embedding_table.weight", {7, 8}},
        {"postion_embedding_table.weight", {5, 8}},
        {"blocks.0.sa.heads.0.key.weight", {4, 8}},
        {"blocks.0.sa.heads.0.query.weight", {4, 8}},
        {"blocks.0.sa.heads.0.value.weight", {4, 8}},
        {"blocks.0.sa.heads.1.key.weight", {4, 8}},
        {"blocks.0.sa.heads.1.query.weight", {4, 8}},
        {"blocks.0.sa.heads.1.value.weight", {4, 8}},
        {"blocks.0.sa.proj.weight", {8, 8}},
        {"blocks.0.sa.proj.bias", {8}},
        {"blocks.0.ffwd.net.0.weight", {32, 8}},
        {"blocks.0.ffwd.net.0.bias", {32}},
        {"blocks.0.ffwd.net.2.weight", {8, 32}},
        {"blocks.0.ffwd.net.2.bias", {8}},
        {"blocks.0.ln1.weight", {8}},
        {"blocks.0.ln1.bias", {8}},
        {"blocks.0.ln2.weight", {8}},
        {"blocks.0.ln2.bias", {8}},
        {"blocks.1.sa.heads.0.key.weight", {4, 8}},
        {"blocks.1.sa.heads.0.query.weight", {4, 8}},
        {"blocks.1.sa.heads.0.value.weight", {4, 8}},
        {"blocks.1.sa.heads.1.key.weight", {4, 8}},
        {"blocks.1.sa.heads.1.query.weight", {4, 8}},
        {"blocks.1.sa.heads.1.value.weight", {4, 8}},
        {"blocks.1.sa.proj.weight", {8, 8}},
        {"blocks.1.sa.proj.bias", {8}},
        {"blocks.1.ffwd.net.0.weight", {32, 8}},
        {"blocks.1.ffwd.net.0.bias", {32}},
        {"blocks.1.ffwd.net.2.weight", {8, 32}},
        {"blocks.1.ffwd.net.2.bias", {8}},
        {"blocks.1.ln1.weight", {8}},
        {"blocks.1.ln1.bias", {8}},
        {"blocks.1.ln2.weight", {8}},
        {"blocks.1.ln2.bias", {8}},
        {"ln_final.weight", {8}},
        {"ln_final.bias", {8}},
        {"lm_head.weight", {7, 8}},
        {"lm_head.bias", {7}},
    };
    const auto named = model.named_parameters();
    REQUIRE(named.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(named[i].first == expected[i].first);
        CHECK(named[i].second.shape() == expected[i].second);
        CHECK(named[i].second.requires_grad());
    }
    CHECK(model.parameter_count() == 1871);  // count_parameters(build_model(7, tiny)) in PyTorch
}

TEST_CASE("GPT: named_buffers are the heads' tril masks, (block_size, block_size) lower-triangular ones") {
    Generator gen(3);
    GPT<float> model(tiny_config(), gen);
    const std::vector<std::string> expected{"blocks.0.sa.heads.0.tril", "blocks.0.sa.heads.1.tril",
                                            "blocks.1.sa.heads.0.tril", "blocks.1.sa.heads.1.tril"};
    const auto buffers = model.named_buffers();
    REQUIRE(buffers.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(buffers[i].first == expected[i]);
        const Tensorf& tril = buffers[i].second;
        REQUIRE(tril.shape() == Shape{5, 5});
        for (std::int64_t r = 0; r < 5; ++r)
            for (std::int64_t c = 0; c < 5; ++c) CHECK(tril(r, c) == (c <= r ? 1.0f : 0.0f));
    }
}

TEST_CASE("GPT: parameter_count of the v9 preset with vocab 65 equals PyTorch's") {
    Generator gen(4);
    GPT<float> model(v9_config(), gen);
    // By hand: tok 65*32 + pos 8*32 + 3 blocks * (heads 3*32*32 + proj 32*32+32 + ffwd 32*128+128+128*32+32
    // + 2 LayerNorms 4*32) + ln_final 2*32 + lm_head 32*65+65 = 2080 + 256 + 3*12608 + 64 + 2145;
    // count_parameters(build_model(65, PRESETS["v9"])) in tools/reference_model.py agrees.
    CHECK(model.parameter_count() == 42369);
    CHECK(model.named_parameters().size() == 2 + 3 * (4 * 3 + 2 + 4 + 4) + 4);
    CHECK(model.named_buffers().size() == 3 * 4);
}

// ---- initialisation -------------------------------------------------------------------------------

TEST_CASE("GPT: initialisation follows PyTorch's defaults") {
    Generator gen(5);
    GPT<double> model(v9_config(), gen);
    double embed_sum = 0, embed_sq = 0;
    std::int64_t embed_n = 0, out_of_bound = 0;
    double bound = 0;
    for (const auto& [name, p] : model.named_parameters()) {
        const auto& name_value = name;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(name_value);
        if (contains(name, "embedding_table")) {
            for (std::int64_t i = 0; i < p.numel(); ++i) {
                embed_sum += p.data()[i];
                embed_sq += p.data()[i] * p.data()[i];
            }
            embed_n += p.numel();
        } else if (contains(name, "ln")) {
            const double value = contains(name, ".weight") ? 1.0 : 0.0;
            for (std::int64_t i = 0; i < p.numel(); ++i) CHECK(p.data()[i] == value);
        } else {
            // Linear: weight (out, in) and its bias, both U(-1/sqrt(in), 1/sqrt(in)).
            if (p.dim() == 2) bound = 1.0 / std::sqrt(static_cast<double>(p.size(1)));
            double m = 0;
            for (std::int64_t i = 0; i < p.numel(); ++i) {
                out_of_bound += std::abs(p.data()[i]) > bound;
                m = std::max(m, std::abs(p.data()[i]));
            }
            if (p.numel() >= 1000) CHECK(m > 0.95 * bound);  // the whole interval is used
        }
    }
    CHECK(out_of_bound == 0);
    const double mean = embed_sum / static_cast<double>(embed_n);
    const double stddev = std::sqrt(embed_sq / static_cast<double>(embed_n) - mean * mean);
    CHECK(embed_n == 65 * 32 + 8 * 32);
    CHECK(std::abs(mean) < 0.08);  // 2336 samples of N(0, 1): standard error ~0.02
    CHECK(stddev == doctest::Approx(1.0).epsilon(0.06));
}

TEST_CASE("GPT: the same seed gives identical weights; another seed different ones") {
    Generator g1(7), g2(7), g3(8);
    GPT<float> a(tiny_config(), g1), b(tiny_config(), g2), c(tiny_config(), g3);
    const auto pa = a.named_parameters(), pb = b.named_parameters(), pc = c.named_parameters();
    bool all_differ = true;
    for (std::size_t i = 0; i < pa.size(); ++i) {
        CAPTURE(pa[i].first);
        CHECK(pa[i].second.to_vector() == pb[i].second.to_vector());
        if (!contains(pa[i].first, "ln")) all_differ = all_differ && pa[i].second.to_vector() != pc[i].second.to_vector();
    }
    CHECK(all_differ);
    // The same generator state afterwards, too.
    CHECK(g1.state() == g2.state());
}

// ---- forward --------------------------------------------------------------------------------------

TEST_CASE("GPT::forward: logits (B, T, V), mean cross-entropy loss, and the reference composition") {
    Generator gen(9);
    GPT<double> model(tiny_config(), gen);
    const IndexTensor idx = random_ids({3, 4}, 7, gen);  // T < block_size
    const IndexTensor targets = random_ids({3, 4}, 7, gen);
    const GPTOutput<double> out = model.forward(idx, targets);
    REQUIRE(out.logits.shape() == Shape{3, 4, 7});
    REQUIRE(out.loss.defined());
    CHECK(out.loss.shape() == Shape{});

    // loss = F.cross_entropy(logits.view(B*T, V), targets.view(B*T)), by hand.
    double expected_loss = 0;
    for (std::int64_t r = 0; r < 12; ++r) {
        const double* row = out.logits.data() + r * 7;
        const double m = *std::max_element(row, row + 7);
        double z = 0;
        for (std::int64_t v = 0; v < 7; ++v) z += std::exp(row[v] - m);
        expected_loss += m + std::log(z) - row[targets.data()[r]];
    }
    CHECK(out.loss.item() == doctest::Approx(expected_loss / 12).epsilon(1e-12));

    // tok_emb(idx) + pos_emb(arange(T)) -> blocks -> ln_final -> lm_head
    Tensord x = model.token_embedding_table.forward(idx) + model.postion_embedding_table.forward(IndexTensor::arange(4));
    for (const auto& block : model.blocks) x = block->forward(x);
    const Tensord logits = model.lm_head.forward(model.ln_final->forward(x));
    for (std::int64_t i = 0; i < logits.numel(); ++i) CHECK(out.logits.data()[i] == doctest::Approx(logits.data()[i]).epsilon(1e-13));

    // Without targets there is no loss; at full block_size it works as well.
    CHECK_FALSE(model.forward(idx).loss.defined());
    CHECK(model.forward(random_ids({2, 5}, 7, gen)).logits.shape() == Shape{2, 5, 7});
    CHECK(model.forward(random_ids({1, 1}, 7, gen)).logits.shape() == Shape{1, 1, 7});
}

TEST_CASE("GPT::forward: the loss at initialisation is near log(vocab_size)") {
    Generator gen(10);
    GPTConfig c = v9_config();
    GPT<float> model(c, gen);
    const IndexTensor idx = random_ids({8, 8}, 65, gen), targets = random_ids({8, 8}, 65, gen);
    const float loss = model.forward(idx, targets).loss.item();
    CHECK(loss > 0.6 * std::log(65.0));
    CHECK(loss < 2.0 * std::log(65.0));
}

TEST_CASE("GPT::forward: errors for too long sequences, ids out of vocab and bad shapes") {
    Generator gen(11);
    GPT<float> model(tiny_config(), gen);
    CHECK_THROWS_AS(model.forward(random_ids({2, 6}, 7, gen)), Error);  // T = 6 > block_size 5
    try {
        model.forward(random_ids({1, 6}, 7, gen));
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(contains(e.what(), "block_size = 5"));
        CHECK(contains(e.what(), "6"));
    }
    CHECK_THROWS_AS(model.forward(IndexTensor::from_data({1, 3}, {0, 7, 1})), Error);   // id == vocab_size
    CHECK_THROWS_AS(model.forward(IndexTensor::from_data({1, 3}, {0, -1, 1})), Error);  // negative id
    CHECK_THROWS_AS(model.forward(IndexTensor::from_data({3}, {0, 1, 2})), Error);      // not (B, T)
    CHECK_THROWS_AS(model.forward(IndexTensor::empty({2, 0})), Error);                  // T = 0
    CHECK_THROWS_AS(model.forward(IndexTensor::from_data({1, 3}, {0, 1, 2}), IndexTensor::from_data({1, 2}, {0, 1})),
                    Error);  // targets of another shape
    CHECK_THROWS_AS(model.forward(IndexTensor::from_data({1, 2}, {0, 1}), IndexTensor::from_data({1, 2}, {0, 9})),
                    Error);  // target out of vocab
}

// ---- gradients ------------------------------------------------------------------------------------

TEST_CASE("GPT: gradcheck of the loss with respect to every parameter (tiny model, double)") {
    Generator gen(12);
    GPT<double> model(tiny_config(), gen);
    const IndexTensor idx = IndexTensor::from_data({2, 4}, {1, 5, 5, 0, 6, 2, 3, 2});
    const IndexTensor targets = IndexTensor::from_data({2, 4}, {5, 5, 0, 4, 2, 3, 2, 1});
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Tensord>&) { return model.forward(idx, targets).loss; }, model.parameters());
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("GPT::loss: the fused head gives forward()'s loss and the same gradients (double)") {
    Generator gen(14);
    GPT<double> model(tiny_config(), gen);
    const IndexTensor idx = IndexTensor::from_data({2, 4}, {1, 5, 5, 0, 6, 2, 3, 2});
    const IndexTensor targets = IndexTensor::from_data({2, 4}, {5, 5, 0, 4, 2, 3, 2, 1});
    const Tensord fused = model.loss(idx, targets);
    fused.backward();
    std::vector<Tensord> fused_grads;
    for (const Tensord& p : model.parameters()) fused_grads.push_back(p.grad());
    model.zero_grad();
    const Tensord plain = model.forward(idx, targets).loss;
    plain.backward();
    CHECK(fused.item() == doctest::Approx(plain.item()).epsilon(1e-12));
    const std::vector<Tensord> params = model.parameters();
    for (std::size_t i = 0; i < params.size(); ++i) {
        CAPTURE(i);
        CHECK(max_abs_diff(fused_grads[i], params[i].grad()) < 1e-13);
    }
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Tensord>&) { return model.loss(idx, targets); }, model.parameters());
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("GPT: gradcheck with dropout in training, the dropout generator re-seeded per call") {
    Generator gen(13);
    GPTConfig c = tiny_config(0.2);
    c.n_layer = 1;
    GPT<double> model(c, gen);
    const IndexTensor idx = IndexTensor::from_data({1, 5}, {3, 1, 4, 1, 5});
    const IndexTensor targets = IndexTensor::from_data({1, 5}, {1, 4, 1, 5, 2});
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Tensord>&) {
            model.dropout_generator().seed(2718);
            return model.forward(idx, targets).loss;
        },
        model.parameters());
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("GPT: backward reaches every parameter; zero_grad clears them all") {
    Generator gen(14);
    GPT<float> model(tiny_config(), gen);
    model.forward(random_ids({2, 5}, 7, gen), random_ids({2, 5}, 7, gen)).loss.backward();
    for (const auto& [name, p] : model.named_parameters()) {
        const auto& name_value = name;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(name_value);
        REQUIRE(p.grad().defined());
        double norm = 0;
        for (std::int64_t i = 0; i < p.numel(); ++i) norm += std::abs(p.grad().data()[i]);
        CHECK(norm > 0);
    }
    model.zero_grad();
    for (const auto& [name, p] : model.named_parameters()) {
        const auto& name_value = name;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(name_value);
        CHECK_FALSE(p.grad().defined());
    }
}

TEST_CASE("GPT: a few AdamW steps on one batch lower the loss") {
    Generator gen(15);
    GPT<float> model(tiny_config(), gen);
    const IndexTensor idx = random_ids({4, 5}, 7, gen), targets = random_ids({4, 5}, 7, gen);
    optim::AdamWOptions options;
    options.lr = 1e-2;
    optim::AdamW<float> opt(model.parameters(), options);
    const float first = model.forward(idx, targets).loss.item();
    for (int step = 0; step < 30; ++step) {
        opt.zero_grad();
        Tensorf loss = model.forward(idx, targets).loss;
        loss.backward();
        opt.step();
    }
    CHECK(model.forward(idx, targets).loss.item() < first - 0.3f);
}

// ---- modes ----------------------------------------------------------------------------------------

TEST_CASE("GPT: train() and eval() reach every submodule; dropout is the identity in eval") {
    Generator g1(16), g2(16);
    GPT<double> model(tiny_config(0.5), g1);
    GPT<double> no_dropout(tiny_config(0.0), g2);  // same seed: same weights
    CHECK(model.is_training());

    auto modules = [&]() {
        std::vector<const nn::Module<double>*> m{&model, &model.token_embedding_table, &model.postion_embedding_table,
                                                 model.ln_final.get(), &model.lm_head};
        for (const auto& b : model.blocks) {
            m.insert(m.end(), {b.get(), &b->sa, b->sa.proj.get(), b->sa.dropout.get(), &b->ffwd, &b->ffwd.net,
                               b->ln1.get(), b->ln2.get()});
            for (const auto& h : b->sa.heads) m.insert(m.end(), {h.get(), &h->key, &h->query, &h->value, &h->dropout});
        }
        return m;
    };

    model.eval();
    for (const nn::Module<double>* m : modules()) CHECK_FALSE(m->is_training());
    Generator data(17);
    const IndexTensor idx = random_ids({2, 5}, 7, data);
    const Tensord a = model.forward(idx).logits, b = model.forward(idx).logits;
    const Tensord reference = no_dropout.forward(idx).logits;
    for (std::int64_t i = 0; i < a.numel(); ++i) {
        CHECK(a.data()[i] == b.data()[i]);
        CHECK(a.data()[i] == doctest::Approx(reference.data()[i]).epsilon(1e-13));
    }

    model.train();
    for (const nn::Module<double>* m : modules()) CHECK(m->is_training());
    const Tensord c = model.forward(idx).logits;
    double diff = 0;
    for (std::int64_t i = 0; i < c.numel(); ++i) diff += std::abs(c.data()[i] - reference.data()[i]);
    CHECK(diff > 1e-3);
}

// ---- generate -------------------------------------------------------------------------------------

TEST_CASE("GPT::generate: shape (B, T0 + n), the prompt kept, all ids in range, no graph recorded") {
    Generator gen(18);
    GPT<float> model(tiny_config(), gen);
    const IndexTensor prompt = IndexTensor::from_data({2, 2}, {1, 2, 3, 4});
    Generator sampler(19);
    const IndexTensor out = model.generate(prompt, 9, sampler);  // 2 + 9 > block_size 5: the context is cropped
    REQUIRE(out.shape() == Shape{2, 11});
    CHECK(out(0, 0) == 1);
    CHECK(out(0, 1) == 2);
    CHECK(out(1, 0) == 3);
    CHECK(out(1, 1) == 4);
    for (std::int64_t i = 0; i < out.numel(); ++i) {
        CHECK(out.data()[i] >= 0);
        CHECK(out.data()[i] < 7);
    }
    for (const Tensorf& p : model.parameters()) CHECK_FALSE(p.grad().defined());
    CHECK(GradMode::is_enabled());  // restored afterwards

    // A prompt longer than block_size works too (only its last block_size tokens are seen).
    const IndexTensor long_prompt = IndexTensor::from_data({1, 7}, {0, 1, 2, 3, 4, 5, 6});
    CHECK(model.generate(long_prompt, 3, sampler).shape() == Shape{1, 10});
    // Zero new tokens: the prompt itself.
    CHECK(model.generate(prompt, 0, sampler).to_vector() == prompt.to_vector());
}

TEST_CASE("GPT::generate: the same seed gives the same tokens") {
    Generator gen(20);
    GPT<float> model(tiny_config(), gen);
    const IndexTensor prompt = IndexTensor::from_data({3, 1}, {0, 3, 6});
    Generator s1(21), s2(21), s3(22);
    const IndexTensor a = model.generate(prompt, 20, s1);
    const IndexTensor b = model.generate(prompt, 20, s2);
    const IndexTensor c = model.generate(prompt, 20, s3);
    CHECK(a.to_vector() == b.to_vector());
    CHECK(a.to_vector() != c.to_vector());
}

TEST_CASE("GPT::generate: top_k = 1 is greedy argmax over the cropped context") {
    Generator gen(23);
    GPT<double> model(tiny_config(), gen);
    model.eval();
    const std::vector<std::int64_t> prompt{4, 0, 2};
    SamplingOptions greedy;
    greedy.top_k = 1;
    Generator sampler(24);
    const std::int64_t n = 8;  // 3 + 8 > block_size 5
    const IndexTensor out = model.generate(IndexTensor::from_data({1, 3}, prompt), n, sampler, greedy);
    REQUIRE(out.shape() == Shape{1, 3 + n});

    std::vector<std::int64_t> row = prompt;
    for (std::int64_t step = 0; step < n; ++step) {
        const std::vector<double> logits = last_logits(model, row);
        row.push_back(argmax(logits.data(), 7));
    }
    CHECK(out.to_vector() == row);

    // A very low temperature is greedy as well.
    SamplingOptions cold;
    cold.temperature = 1e-4;
    CHECK(model.generate(IndexTensor::from_data({1, 3}, prompt), n, sampler, cold).to_vector() == row);
}

TEST_CASE("GPT::generate: with top_k every token is among the k most likely at its step") {
    Generator gen(25);
    GPT<double> model(tiny_config(), gen);
    SamplingOptions options;
    options.top_k = 2;
    options.temperature = 3.0;  // flat, so that both candidates occur
    Generator sampler(26);
    const IndexTensor out = model.generate(IndexTensor::from_data({1, 1}, {5}), 30, sampler, options);
    std::vector<std::int64_t> row{5};
    std::int64_t second_choice = 0;
    for (std::int64_t t = 1; t < out.size(1); ++t) {
        CAPTURE(t);
        std::vector<double> logits = last_logits(model, row);
        std::vector<double> sorted = logits;
        std::sort(sorted.begin(), sorted.end(), std::greater<>());
        const double token_logit = logits[static_cast<std::size_t>(out(0, t))];
        CHECK(token_logit >= sorted[1]);
        second_choice += token_logit < sorted[0];
        row.push_back(out(0, t));
    }
    CHECK(second_choice > 0);
}

TEST_CASE("GPT::generate: one-token samples follow softmax(logits / temperature), restricted to top_k") {
    Generator gen(27);
    GPT<double> model(tiny_config(), gen);
    const std::int64_t rows = 4000;
    const std::vector<std::int64_t> prompt{2, 6, 1};
    std::vector<std::int64_t> repeated;
    for (std::int64_t r = 0; r < rows; ++r) repeated.insert(repeated.end(), prompt.begin(), prompt.end());
    const IndexTensor batch = IndexTensor::from_data({rows, 3}, repeated);
    const std::vector<double> logits = last_logits(model, prompt);

    for (const auto& [temperature, top_k] : std::vector<std::pair<double, std::int64_t>>{{1.0, 0}, {2.0, 0}, {1.0, 3}}) {
        const auto& temperature_value = temperature;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(temperature_value);
        const auto& top_k_value = top_k;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(top_k_value);
        std::vector<double> sorted = logits;
        std::sort(sorted.begin(), sorted.end(), std::greater<>());
        const double threshold = top_k > 0 ? sorted[static_cast<std::size_t>(top_k - 1)] : -1e300;
        std::vector<double> expected(7);
        double total = 0;
        for (std::size_t v = 0; v < 7; ++v) {
            expected[v] = logits[v] >= threshold ? std::exp(logits[v] / temperature) : 0.0;
            total += expected[v];
        }
        SamplingOptions options;
        options.temperature = temperature;
        options.top_k = top_k;
        Generator sampler(28);
        const IndexTensor out = model.generate(batch, 1, sampler, options);
        std::vector<double> counts(7, 0.0);
        for (std::int64_t r = 0; r < rows; ++r) counts[static_cast<std::size_t>(out(r, 3))] += 1;
        for (std::size_t v = 0; v < 7; ++v) {
            CAPTURE(v);
            const double p = expected[v] / total;
            const double freq = counts[v] / static_cast<double>(rows);
            CHECK(std::abs(freq - p) < 5 * std::sqrt(p * (1 - p) / rows) + 1e-9);  // within 5 standard errors
            if (p == 0.0) CHECK(counts[v] == 0);
        }
    }
}

TEST_CASE("GPT::generate: on_token sees every new token, row by row, as it is drawn") {
    Generator gen(29);
    GPT<float> model(tiny_config(), gen);
    std::vector<std::pair<std::int64_t, std::int64_t>> seen;
    Generator sampler(30);
    const IndexTensor out = model.generate(IndexTensor::from_data({2, 1}, {0, 1}), 6, sampler, SamplingOptions{},
                                           [&](std::int64_t row, std::int64_t token) { seen.emplace_back(row, token); });
    REQUIRE(seen.size() == 12);
    for (std::int64_t step = 0; step < 6; ++step)
        for (std::int64_t b = 0; b < 2; ++b) {
            const auto& [row, token] = seen[static_cast<std::size_t>(step * 2 + b)];
            CHECK(row == b);
            CHECK(token == out(b, 1 + step));
        }
}

TEST_CASE("GPT::generate: invalid arguments throw") {
    Generator gen(31);
    GPT<float> model(tiny_config(), gen);
    const IndexTensor prompt = IndexTensor::from_data({1, 1}, {0});
    Generator sampler(32);
    SamplingOptions options;
    options.temperature = 0.0;
    CHECK_THROWS_AS(model.generate(prompt, 3, sampler, options), Error);
    options.temperature = -1.0;
    CHECK_THROWS_AS(model.generate(prompt, 3, sampler, options), Error);
    try {
        model.generate(prompt, 3, sampler, options);
    } catch (const Error& e) {
        CHECK(contains(e.what(), "temperature"));
    }
    options.temperature = 1.0;
    options.top_k = -1;
    CHECK_THROWS_AS(model.generate(prompt, 3, sampler, options), Error);
    try {
        model.generate(prompt, 3, sampler, options);
    } catch (const Error& e) {
        CHECK(contains(e.what(), "top_k"));
    }
    CHECK_THROWS_AS(model.generate(IndexTensor::from_data({2}, {0, 1}), 3, sampler), Error);
    CHECK_THROWS_AS(model.generate(IndexTensor::empty({1, 0}), 3, sampler), Error);
    CHECK_THROWS_AS(model.generate(IndexTensor::empty({0, 2}), 3, sampler), Error);  // no rows
    CHECK_THROWS_AS(model.generate(IndexTensor::from_data({1, 2}, {0, 7}), 3, sampler), Error);  // id out of vocab
    // top_k larger than the vocabulary samples from every token.
    options.top_k = 100;
    CHECK(model.generate(prompt, 3, sampler, options).shape() == Shape{1, 4});
}

// ---- KV cache -------------------------------------------------------------------------------------

TEST_CASE("KVCacheDecoder: each step's logits are the full forward's at that position; the cache fills up") {
    Generator gen(40);
    GPT<double> model(tiny_config(), gen);
    model.eval();
    const std::int64_t B = 2, block = model.config.block_size, V = model.config.vocab_size;
    const IndexTensor idx = random_ids({B, block}, V, gen);
    const Tensord full = [&] {
        NoGradGuard no_grad;
        return model.forward(idx).logits;  // (B, block, V): causal, so position p sees tokens 0..p only
    }();
    KVCacheDecoder<double> cache(model, B);
    CHECK(cache.length() == 0);
    for (std::int64_t p = 0; p < block; ++p) {
        CAPTURE(p);
        const Tensord logits = cache.step({idx(0, p), idx(1, p)});
        REQUIRE(logits.shape() == Shape{B, V});
        CHECK_FALSE(logits.requires_grad());  // no graph, even with grad mode on
        CHECK(cache.length() == p + 1);
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t v = 0; v < V; ++v) CHECK(std::abs(logits(b, v) - full(b, p, v)) < 1e-12);
    }
    CHECK(GradMode::is_enabled());
    for (const Tensord& p : model.parameters()) CHECK_FALSE(p.grad().defined());
    CHECK_THROWS_AS(cache.step({0, 0}), Error);  // full: block_size positions
    KVCacheDecoder<double> other(model, B);
    CHECK_THROWS_AS(other.step({0}), Error);  // one token per row
}

TEST_CASE("GPT::generate: a prompt longer than block_size, greedy, sees its last block_size tokens") {
    Generator gen(41);
    GPT<double> model(tiny_config(), gen);
    model.eval();
    const std::vector<std::int64_t> prompt{1, 6, 0, 3, 5, 2, 4};  // 7 > block_size 5
    SamplingOptions greedy;
    greedy.top_k = 1;
    Generator sampler(42);
    const std::int64_t n = 4;
    const IndexTensor out = model.generate(IndexTensor::from_data({1, 7}, prompt), n, sampler, greedy);
    std::vector<std::int64_t> row = prompt;
    for (std::int64_t step = 0; step < n; ++step) {
        const std::vector<double> logits = last_logits(model, row);
        row.push_back(argmax(logits.data(), 7));
    }
    CHECK(out.to_vector() == row);
}
