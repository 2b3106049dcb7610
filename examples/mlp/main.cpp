// A multilayer perceptron learns XOR: the library on its own, in the style of a libtorch tutorial.
//
// XOR is the classic problem that no single linear layer can solve (the two classes are not
// separated by any line), and one hidden layer with a ReLU can. The network maps (a, b) in {0, 1}^2
// to a number trained towards a XOR b with the mean squared error:
//
//     x (4, 2) -> Linear(2, 16) -> ReLU -> Linear(16, 1) -> y (4, 1),   loss = mse_loss(y, target)
//
// It prints the loss as it falls and the final predictions, and exits with status 1 if the final loss
// is not below the threshold it states (the ctest test `example_mlp` relies on that).

#include <babygpt/babygpt.hpp>

#include <cstdio>

using namespace babygpt;

/// Two fully connected layers with a ReLU between them.
struct Net : nn::Module<float> {
    Net() {
        register_module("fc1", fc1);
        register_module("fc2", fc2);
    }

    Tensorf forward(const Tensorf& x) const {  // (N, 2) -> (N, 1)
        return fc2.forward(relu(fc1.forward(x)));
    }

    nn::Linear<float> fc1{2, 16};
    nn::Linear<float> fc2{16, 1};
};

int main() {
    manual_seed(0);  // the layers draw their initial weights from the default generator

    const Tensorf inputs = Tensorf::from_data({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});  // (4, 2)
    const Tensorf targets = Tensorf::from_data({4, 1}, {0, 1, 1, 0});           // (4, 1): a XOR b

    Net net;
    optim::AdamW<float> optimizer(net.parameters(), optim::AdamWOptions(1e-2).weight_decay(0));

    const int steps = 400;
    const double threshold = 1e-3;
    double final_loss = 0;
    for (int step = 1; step <= steps; ++step) {
        const Tensorf loss = mse_loss(net.forward(inputs), targets);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        final_loss = loss.item();
        if (step == 1 || step % 40 == 0) std::printf("step %3d  loss %.6f\n", step, final_loss);
    }

    {
        NoGradGuard no_grad;
        const Tensorf predictions = net.forward(inputs);  // (4, 1)
        for (int i = 0; i < 4; ++i)
            std::printf("%g xor %g -> %.3f\n", inputs.data()[2 * i], inputs.data()[2 * i + 1], predictions.data()[i]);
    }

    if (final_loss >= threshold) {
        std::printf("did not learn XOR: final loss %.6f is not below %g\n", final_loss, threshold);
        return 1;
    }
    std::printf("learned XOR: final loss %.6f < %g\n", final_loss, threshold);
    return 0;
}
