#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace babygpt_cli {

std::string metrics_csv(const std::vector<MetricRow>& rows) {
    std::ostringstream out;
    out << "step,train_loss,val_loss,tokens_per_sec,elapsed\n";
    for (const MetricRow& r : rows)
        out << r.step << ',' << r.train_loss << ',' << r.val_loss << ',' << r.tokens_per_sec << ',' << r.elapsed
            << '\n';
    return out.str();
}

std::vector<MetricRow> read_metrics_csv(const std::string& path) {
    std::vector<MetricRow> rows;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        MetricRow r;
        char c1, c2, c3, c4;
        std::istringstream fields(line);
        if (fields >> r.step >> c1 >> r.train_loss >> c2 >> r.val_loss >> c3 >> r.tokens_per_sec >> c4 >> r.elapsed &&
            c1 == ',' && c2 == ',' && c3 == ',' && c4 == ',')
            rows.push_back(r);
    }
    return rows;
}

namespace {

std::string escape_xml(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

}  // namespace

std::string loss_plot_svg(const std::vector<MetricRow>& rows, const std::string& title) {
    const double width = 720, height = 420, left = 70, right = 20, top = 40, bottom = 50;
    const double plot_w = width - left - right, plot_h = height - top - bottom;
    double max_step = 1, lo = 0, hi = 1;
    bool first = true;
    for (const MetricRow& r : rows) {
        max_step = std::max(max_step, static_cast<double>(r.step));
        for (double v : {r.train_loss, r.val_loss}) {
            if (!std::isfinite(v)) continue;
            lo = first ? v : std::min(lo, v);
            hi = first ? v : std::max(hi, v);
            first = false;
        }
    }
    if (hi - lo < 1e-9) hi = lo + 1;
    const double pad = 0.05 * (hi - lo);
    lo -= pad;
    hi += pad;
    auto x = [&](double step) { return left + plot_w * step / max_step; };
    auto y = [&](double loss) { return top + plot_h * (hi - loss) / (hi - lo); };

    std::ostringstream svg;
    svg.precision(5);
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
        << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"" << width / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" << escape_xml(title)
        << "</text>\n";
    for (int i = 0; i <= 5; ++i) {  // grid lines with axis labels
        const double loss = lo + (hi - lo) * i / 5, step = max_step * i / 5;
        svg << "<line x1=\"" << left << "\" x2=\"" << left + plot_w << "\" y1=\"" << y(loss) << "\" y2=\"" << y(loss)
            << "\" stroke=\"#e0e0e0\"/>\n"
            << "<text x=\"" << left - 8 << "\" y=\"" << y(loss) + 4 << "\" text-anchor=\"end\">" << loss << "</text>\n"
            << "<text x=\"" << x(step) << "\" y=\"" << top + plot_h + 18 << "\" text-anchor=\"middle\">"
            << static_cast<long long>(step) << "</text>\n";
    }
    svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\"" << plot_h
        << "\" fill=\"none\" stroke=\"#444\"/>\n"
        << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << height - 10 << "\" text-anchor=\"middle\">step</text>\n"
        << "<text x=\"16\" y=\"" << top + plot_h / 2 << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 "
        << top + plot_h / 2 << ")\">loss</text>\n";
    const struct { const char* name; const char* color; double MetricRow::*field; } series[] = {
        {"train", "#1f77b4", &MetricRow::train_loss}, {"val", "#d62728", &MetricRow::val_loss}};
    int index = 0;
    for (const auto& s : series) {
        svg << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\" points=\"";
        for (const MetricRow& r : rows)
            if (std::isfinite(r.*s.field)) svg << x(static_cast<double>(r.step)) << ',' << y(r.*s.field) << ' ';
        svg << "\"/>\n";
        const double ly = top + 16 + 18 * index++;
        svg << "<line x1=\"" << left + plot_w - 90 << "\" x2=\"" << left + plot_w - 66 << "\" y1=\"" << ly
            << "\" y2=\"" << ly << "\" stroke=\"" << s.color << "\" stroke-width=\"2\"/>\n"
            << "<text x=\"" << left + plot_w - 60 << "\" y=\"" << ly + 4 << "\">" << s.name << " loss</text>\n";
    }
    svg << "</svg>\n";
    return svg.str();
}

}  // namespace babygpt_cli
