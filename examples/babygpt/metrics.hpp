#pragma once
// Metrics of a run: one row per evaluation, kept as a CSV and drawn as an SVG of the loss curves.

#include <cstdint>
#include <string>
#include <vector>

namespace babygpt_cli {

struct MetricRow {
    std::int64_t step = 0;
    double train_loss = 0;
    double val_loss = 0;
    double tokens_per_sec = 0;
    double elapsed = 0;  // seconds of training since the run (or its first part) started
};

/// "step,train_loss,val_loss,tokens_per_sec,elapsed" and one line per row.
std::string metrics_csv(const std::vector<MetricRow>& rows);

/// Rows of a CSV written by metrics_csv(); unreadable lines are skipped. A missing file gives no rows.
std::vector<MetricRow> read_metrics_csv(const std::string& path);

/// What the plot's title names: the corpus file name, the preset and the model's parameter count.
struct PlotLabel {
    std::string corpus;
    std::string preset;
    std::int64_t parameters = 0;
};

/// A self-contained SVG of a run: train and val loss against step above, tokens/s against step below.
std::string loss_plot_svg(const std::vector<MetricRow>& rows, const PlotLabel& label);

}  // namespace babygpt_cli
