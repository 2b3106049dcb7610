#include "block_stats.hpp"

#include <babygpt/babygpt.hpp>  // with BABYGPT_PRECOMPILED: the model's code comes compiled (instances.hpp)

#include <cmath>
#include <fstream>
#include <sstream>

namespace babygpt_cli {

namespace {

/// The mean and the (population) standard deviation of all of t's elements, accumulated in double.
std::pair<double, double> mean_and_std(const babygpt::Tensorf& t) {
    double sum = 0, squares = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        const double v = t.data()[i];
        sum += v;
        squares += v * v;
    }
    const double n = static_cast<double>(t.numel());
    const double mean = sum / n;
    return {mean, std::sqrt(std::max(0.0, squares / n - mean * mean))};
}

}  // namespace

std::vector<BlockStatsRow> measure_block_stats(babygpt::GPT<float>& model, const babygpt::data::Batch& batch,
                                               std::int64_t step) {
    std::vector<babygpt::nn::BlockActivations<float>> seen;
    model.eval();
    for (auto& named : model.named_parameters()) named.second.zero_grad();
    model.loss_observed(batch.x, batch.y, seen).backward();

    std::vector<BlockStatsRow> rows;
    for (std::size_t l = 0; l < seen.size(); ++l) {
        BlockStatsRow row;
        row.step = step;
        row.block = static_cast<std::int64_t>(l);
        std::tie(row.input_mean, row.input_std) = mean_and_std(seen[l].input);
        std::tie(row.attention_mean, row.attention_std) = mean_and_std(seen[l].attention);
        std::tie(row.feed_forward_mean, row.feed_forward_std) = mean_and_std(seen[l].feed_forward);
        std::tie(row.output_mean, row.output_std) = mean_and_std(seen[l].output);
        double squares = 0;
        for (const auto& named : model.blocks[l]->named_parameters()) {
            const babygpt::Tensorf g = named.second.grad();
            for (std::int64_t i = 0; g.defined() && i < g.numel(); ++i) squares += double(g.data()[i]) * g.data()[i];
        }
        row.grad_norm = std::sqrt(squares);
        rows.push_back(row);
    }
    for (auto& named : model.named_parameters()) named.second.zero_grad();
    return rows;
}

std::string block_stats_csv(const std::vector<BlockStatsRow>& rows) {
    std::ostringstream out;
    out.precision(9);
    out << "step,block,input_mean,input_std,attention_mean,attention_std,feed_forward_mean,feed_forward_std,"
           "output_mean,output_std,grad_norm\n";
    for (const BlockStatsRow& r : rows)
        out << r.step << ',' << r.block << ',' << r.input_mean << ',' << r.input_std << ',' << r.attention_mean << ','
            << r.attention_std << ',' << r.feed_forward_mean << ',' << r.feed_forward_std << ',' << r.output_mean << ','
            << r.output_std << ',' << r.grad_norm << '\n';
    return out.str();
}

std::vector<BlockStatsRow> read_block_stats_csv(const std::string& path) {
    std::vector<BlockStatsRow> rows;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        BlockStatsRow r;
        std::istringstream fields(line);
        char comma[10] = {};
        if (fields >> r.step >> comma[0] >> r.block >> comma[1] >> r.input_mean >> comma[2] >> r.input_std >>
                comma[3] >> r.attention_mean >> comma[4] >> r.attention_std >> comma[5] >> r.feed_forward_mean >>
                comma[6] >> r.feed_forward_std >> comma[7] >> r.output_mean >> comma[8] >> r.output_std >> comma[9] >>
                r.grad_norm &&
            std::string(comma, 10) == std::string(10, ','))
            rows.push_back(r);
    }
    return rows;
}

}  // namespace babygpt_cli
