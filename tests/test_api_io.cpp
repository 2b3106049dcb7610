// Tests for the one-call io::save(module, path) and io::load(module, path), and
// io::load_state_dict(module, path): a small model round-trips, and a wrong file is a clear error
// naming it.

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "babygpt/io/state_dict.hpp"
#include "babygpt/nn/activation.hpp"
#include "babygpt/nn/linear.hpp"
#include "babygpt/ops/activation.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

/// Two layers with a ReLU between: parameters fc1.weight, fc1.bias, fc2.weight, fc2.bias.
struct TwoLayerNet : nn::Module<float> {
    TwoLayerNet(std::int64_t in, std::int64_t hidden, Generator& gen) : fc1(in, hidden, gen), fc2(hidden, 1, gen) {
        register_module("fc1", fc1);
        register_module("fc2", fc2);
    }
    Tensorf forward(const Tensorf& x) const { return fc2.forward(relu(fc1.forward(x))); }
    nn::Linear<float> fc1, fc2;
};

/// A file name in the working directory, removed when the test ends.
struct ScratchFile {
    explicit ScratchFile(std::string name) : path(std::move(name)) { std::remove(path.c_str()); }
    ~ScratchFile() { std::remove(path.c_str()); }
    std::string path;
};

}  // namespace

TEST_CASE("io::save and io::load: a small model round-trips with identical outputs") {
    Generator gen_a(1), gen_b(2);
    TwoLayerNet a(3, 5, gen_a), b(3, 5, gen_b);
    const Tensorf x = Tensorf::from_data({2, 3}, {0.5f, -1, 2, 1, 0, -0.25f});
    REQUIRE(a.forward(x).to_vector() != b.forward(x).to_vector());  // different weights to begin with
    ScratchFile file("babygpt_test_api_io.safetensors");
    io::save(a, file.path);
    io::load(b, file.path);
    CHECK(a.forward(x).to_vector() == b.forward(x).to_vector());
    CHECK(a.fc2.bias.to_vector() == b.fc2.bias.to_vector());

    // The file holds exactly the module's names, loadable by load_state_dict with a path too.
    const safetensors::Contents contents = safetensors::load(file.path);
    CHECK(contents.tensors.size() == 4);
    CHECK(contents.tensors.count("fc1.weight") == 1);
    Generator gen_c(3);
    TwoLayerNet c(3, 5, gen_c);
    io::load_state_dict(c, file.path);
    CHECK(a.forward(x).to_vector() == c.forward(x).to_vector());
}

TEST_CASE("io::load: a file from a model of other shapes is an error naming the file and the tensors") {
    Generator gen(1);
    TwoLayerNet small(3, 5, gen), wide(3, 6, gen);
    ScratchFile file("babygpt_test_api_io_shapes.safetensors");
    io::save(small, file.path);
    const std::vector<float> before = wide.fc1.weight.to_vector();
    CHECK_THROWS_WITH_AS(io::load(wide, file.path),
                         "babygpt_test_api_io_shapes.safetensors: tensor shapes do not match the model: fc1.bias is "
                         "(5,) in the file but (6,) in the model, fc1.weight is (5,3) in the file but (6,3) in the model, "
                         "fc2.weight is (1,5) in the file but (1,6) in the model (was the file saved from a model "
                         "with another configuration or vocabulary?)",
                         Error);
    CHECK(wide.fc1.weight.to_vector() == before);  // nothing was copied

    nn::Linear<float> lone(3, 5, gen);
    CHECK_THROWS_WITH_AS(io::load(lone, file.path),
                         "babygpt_test_api_io_shapes.safetensors: tensors missing for the model: bias, weight", Error);
}

TEST_CASE("io::load: a missing file is an error naming it") {
    nn::Linear<float> fc(2, 2);
    const std::string message = error_of([&] { io::load(fc, "no_such_babygpt_file.safetensors"); });
    CHECK(contains(message, "no_such_babygpt_file.safetensors"));
}
