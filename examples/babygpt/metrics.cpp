#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

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
            case '\'': out += "&apos;"; break;
            default: out += c;
        }
    }
    return out;
}

/// 42369 -> "42,369".
std::string with_thousands(std::int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

std::string fixed_zero(int decimals) { return decimals > 0 ? "0." + std::string(decimals, '0') : "0"; }

/// A number with exactly `decimals` decimals, and never "-0.0".
std::string fixed(double value, int decimals) {
    std::ostringstream out;
    out.setf(std::ios::fixed);
    out.precision(decimals);
    out << value;
    std::string text = out.str();
    return text.find_first_not_of("-0.") == std::string::npos ? fixed_zero(decimals) : text;
}

/// An axis with round ticks: lo and hi are multiples of step, and step is 1, 2, 2.5 or 5 times a power of ten.
struct Axis {
    double lo = 0, hi = 1, step = 1;
    int decimals = 0;  // of the tick labels: as many as the step needs, and no more

    std::vector<double> ticks() const {
        std::vector<double> out;
        const long long first = std::llround(lo / step), last = std::llround(hi / step);
        for (long long k = first; k <= last && out.size() < 100; ++k) out.push_back(k * step);
        return out;
    }
};

/// The round step giving about `count` intervals over `span`. Integer axes (steps) never get a step below 1
/// nor 2.5; 2.5 is also left out where it would need more decimals than the labels show (three).
double nice_step(double span, int count, bool integer) {
    const double raw = span / count;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    for (double factor : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (factor == 2.5 && (magnitude < (integer ? 10.0 : 0.01))) continue;
        if (factor * magnitude >= raw * 0.999) return integer ? std::max(1.0, factor * magnitude) : factor * magnitude;
    }
    return 10 * magnitude;
}

/// Round axis over [lo, hi], widened outwards to whole steps. A span below min_span (all values equal) is
/// widened around its middle first, so the axis never has zero length.
Axis nice_axis(double lo, double hi, int count, bool integer, double min_span) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || !std::isfinite(hi - lo) || lo > hi) lo = 0, hi = 1;
    // Far from zero, a span must stay visible in doubles (and tick indices in long long).
    min_span = std::max(min_span, 1e-6 * std::max(std::fabs(lo), std::fabs(hi)));
    if (hi - lo < min_span) {
        const double middle = (lo + hi) / 2;
        lo = middle - min_span / 2;
        hi = middle + min_span / 2;
    }
    Axis axis;
    axis.step = nice_step(hi - lo, count, integer);
    axis.lo = std::floor(lo / axis.step + 1e-9) * axis.step;
    axis.hi = std::ceil(hi / axis.step - 1e-9) * axis.step;
    if (axis.hi <= axis.lo) axis.hi = axis.lo + axis.step;
    if (!integer) {
        const double scaled = axis.step / std::pow(10.0, std::floor(std::log10(axis.step)));
        axis.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(axis.step) + 1e-9)));
        if (std::fabs(scaled - 2.5) < 1e-6) ++axis.decimals;  // 0.25 needs one more than 0.2
        axis.decimals = std::min(axis.decimals, 3);
    }
    return axis;
}

/// SVG numbers: one decimal is a tenth of a pixel, plenty.
std::string px(double v) { return fixed(std::isfinite(v) ? v : 0.0, 1); }

}  // namespace

std::string loss_plot_svg(const std::vector<MetricRow>& rows, const PlotLabel& label) {
    // Layout for 800 px: the loss panel on top, the speed panel below it on the same step axis.
    const double width = 800, left = 76, right = 24, plot_w = width - left - right;
    const double loss_top = 56, loss_h = 320, speed_top = loss_top + loss_h + 28, speed_h = 130;
    const double height = speed_top + speed_h + 62;

    // ---- the step axis ----
    double min_step = 0, max_step = 1;
    if (!rows.empty()) {
        min_step = max_step = static_cast<double>(rows.front().step);
        for (const MetricRow& r : rows) {
            min_step = std::min(min_step, static_cast<double>(r.step));
            max_step = std::max(max_step, static_cast<double>(r.step));
        }
    }
    if (max_step - min_step < 1) max_step = min_step + 1;  // one evaluation: an axis from its step onwards
    const Axis steps = nice_axis(min_step, max_step, 6, true, 1);
    auto x = [&](double step) { return left + plot_w * (step - steps.lo) / (steps.hi - steps.lo); };

    // ---- the loss axis ----
    // A linear axis over the losses after the first evaluation: the first loss (about ln(vocabulary) at
    // step 0) is far above the rest and would squash the part of the curve worth reading into a few pixels.
    // A log axis would not help much (4.4 against 1.5 is a factor of three) and is harder to read differences
    // off, so the first point is clipped at the top and its values are written beside an arrow instead
    // (once there are two later evaluations to scale to).
    double lo = INFINITY, hi = -INFINITY, first_hi = -INFINITY;
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (double v : {rows[i].train_loss, rows[i].val_loss}) {
            if (!std::isfinite(v)) continue;
            lo = std::min(lo, v);
            if (i == 0) first_hi = std::max(first_hi, v);
            if (i > 0 || rows.size() <= 2) hi = std::max(hi, v);  // two points: a line from one to the other
        }
    bool first_off_scale = false;
    if (std::isfinite(lo) && !std::isfinite(hi)) hi = first_hi;  // only the first row has finite losses
    if (std::isfinite(lo)) {
        const double span = std::max(hi - lo, 0.1), margin = 0.08 * span;
        // The first point stays on the axis unless it would take more than a third of the panel.
        if (first_hi > hi && first_hi <= hi + span / 2) hi = first_hi;
        first_off_scale = first_hi > hi + margin;
        lo -= margin;
        hi += margin;
    }
    const Axis losses = nice_axis(std::isfinite(lo) ? std::max(0.0, lo) : 0, std::isfinite(hi) ? hi : 1, 6, false, 0.2);
    first_off_scale = first_off_scale && first_hi > losses.hi;
    auto y = [&](double loss) { return loss_top + loss_h * (losses.hi - loss) / (losses.hi - losses.lo); };

    // ---- the speed axis ----
    double max_speed = 0;
    for (const MetricRow& r : rows)
        if (std::isfinite(r.tokens_per_sec)) max_speed = std::max(max_speed, r.tokens_per_sec);
    const Axis speeds = nice_axis(0, max_speed > 0 ? max_speed * 1.05 : 1, 3, max_speed >= 10, 1e-3);
    auto ys = [&](double speed) { return speed_top + speed_h * (speeds.hi - speed) / (speeds.hi - speeds.lo); };

    std::string title = "BabyGPT on " + label.corpus;
    if (!label.preset.empty() || label.parameters > 0) {
        title += ":";
        if (!label.preset.empty()) title += " preset " + label.preset + (label.parameters > 0 ? "," : "");
        if (label.parameters > 0) title += " " + with_thousands(label.parameters) + " parameters";
    }

    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << px(width) << "\" height=\"" << px(height)
        << "\" viewBox=\"0 0 " << px(width) << ' ' << px(height)
        << "\" font-family=\"sans-serif\" font-size=\"13\" fill=\"#222\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"" << px(width / 2) << "\" y=\"30\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">"
        << escape_xml(title) << "</text>\n"
        // Clipped to the panels, widened by a dot's radius so that dots on the first and last step stay whole.
        << "<defs><clipPath id=\"loss-area\"><rect x=\"" << px(left - 4) << "\" y=\"" << px(loss_top) << "\" width=\""
        << px(plot_w + 8) << "\" height=\"" << px(loss_h) << "\"/></clipPath>"
        << "<clipPath id=\"speed-area\"><rect x=\"" << px(left - 4) << "\" y=\"" << px(speed_top - 4) << "\" width=\""
        << px(plot_w + 8) << "\" height=\"" << px(speed_h + 8) << "\"/></clipPath></defs>\n";

    // Grid, tick labels and frames. Step labels only under the lower panel: both panels share them.
    for (double step : steps.ticks()) {
        for (double top : {loss_top, speed_top})
            svg << "<line x1=\"" << px(x(step)) << "\" x2=\"" << px(x(step)) << "\" y1=\"" << px(top) << "\" y2=\""
                << px(top + (top == loss_top ? loss_h : speed_h)) << "\" stroke=\"#e6e6e6\"/>\n";
        svg << "<text x=\"" << px(x(step)) << "\" y=\"" << px(speed_top + speed_h + 18)
            << "\" text-anchor=\"middle\">" << fixed(step, 0) << "</text>\n";
    }
    for (double loss : losses.ticks())
        svg << "<line x1=\"" << px(left) << "\" x2=\"" << px(left + plot_w) << "\" y1=\"" << px(y(loss)) << "\" y2=\""
            << px(y(loss)) << "\" stroke=\"#e6e6e6\"/>\n"
            << "<text x=\"" << px(left - 8) << "\" y=\"" << px(y(loss) + 4) << "\" text-anchor=\"end\">"
            << fixed(loss, losses.decimals) << "</text>\n";
    for (double speed : speeds.ticks())
        svg << "<line x1=\"" << px(left) << "\" x2=\"" << px(left + plot_w) << "\" y1=\"" << px(ys(speed))
            << "\" y2=\"" << px(ys(speed)) << "\" stroke=\"#e6e6e6\"/>\n"
            << "<text x=\"" << px(left - 8) << "\" y=\"" << px(ys(speed) + 4) << "\" text-anchor=\"end\">"
            << fixed(speed, speeds.decimals) << "</text>\n";
    for (double top : {loss_top, speed_top})
        svg << "<rect x=\"" << px(left) << "\" y=\"" << px(top) << "\" width=\"" << px(plot_w) << "\" height=\""
            << px(top == loss_top ? loss_h : speed_h) << "\" fill=\"none\" stroke=\"#555\"/>\n";
    const double loss_mid = loss_top + loss_h / 2, speed_mid = speed_top + speed_h / 2;
    svg << "<text x=\"" << px(left + plot_w / 2) << "\" y=\"" << px(speed_top + speed_h + 42)
        << "\" text-anchor=\"middle\">step</text>\n"
        << "<text x=\"20\" y=\"" << px(loss_mid) << "\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
        << px(loss_mid) << ")\">loss</text>\n"
        << "<text x=\"20\" y=\"" << px(speed_mid) << "\" text-anchor=\"middle\" transform=\"rotate(-90 20 "
        << px(speed_mid) << ")\">tokens/s</text>\n";

    // The loss curves: one polyline per split, clipped to the panel, with a dot at each evaluation.
    const struct { const char* name; const char* color; double MetricRow::*field; } series[] = {
        {"train", "#1f77b4", &MetricRow::train_loss}, {"val", "#d62728", &MetricRow::val_loss}};
    for (const auto& s : series) {
        svg << "<g clip-path=\"url(#loss-area)\" stroke=\"" << s.color << "\" fill=\"" << s.color << "\">"
            << "<polyline fill=\"none\" stroke-width=\"2\" points=\"";
        for (const MetricRow& r : rows)
            if (std::isfinite(r.*s.field)) svg << px(x(static_cast<double>(r.step))) << ',' << px(y(r.*s.field)) << ' ';
        svg << "\"/>";
        if (rows.size() <= 40)
            for (const MetricRow& r : rows)
                if (std::isfinite(r.*s.field))
                    svg << "<circle cx=\"" << px(x(static_cast<double>(r.step))) << "\" cy=\"" << px(y(r.*s.field))
                        << "\" r=\"3\" stroke=\"none\"/>";
        svg << "</g>\n";
    }
    if (first_off_scale) {  // an arrow at the top edge above the first evaluation, its values above the frame
        const MetricRow& r = rows.front();
        const double ax = x(static_cast<double>(r.step)) + 6, ay = loss_top + 4;
        svg << "<path d=\"M" << px(ax) << ',' << px(ay) << " l-6,10 h12 z\" fill=\"#555\"/>\n"
            << "<text x=\"" << px(ax - 6) << "\" y=\"" << px(loss_top - 8) << "\" font-size=\"12\" fill=\"#555\">step "
            << r.step << ":";
        if (std::isfinite(r.train_loss)) svg << " train " << fixed(r.train_loss, 2);
        if (std::isfinite(r.train_loss) && std::isfinite(r.val_loss)) svg << ',';
        if (std::isfinite(r.val_loss)) svg << " val " << fixed(r.val_loss, 2);
        svg << " (off scale)</text>\n";
    }

    // Legend, top right, on white so that curves under it do not show through.
    const double legend_x = left + plot_w - 126, legend_y = loss_top + 10;
    svg << "<rect x=\"" << px(legend_x) << "\" y=\"" << px(legend_y) << "\" width=\"116\" height=\"46\" fill=\"white\""
        << " fill-opacity=\"0.9\" stroke=\"#bbb\"/>\n";
    for (int i = 0; i < 2; ++i) {
        const double ly = legend_y + 15 + 18 * i;
        svg << "<line x1=\"" << px(legend_x + 10) << "\" x2=\"" << px(legend_x + 36) << "\" y1=\"" << px(ly)
            << "\" y2=\"" << px(ly) << "\" stroke=\"" << series[i].color << "\" stroke-width=\"2\"/>\n"
            << "<text x=\"" << px(legend_x + 44) << "\" y=\"" << px(ly + 4) << "\">" << series[i].name
            << " loss</text>\n";
    }
    if (rows.empty())
        svg << "<text x=\"" << px(left + plot_w / 2) << "\" y=\"" << px(loss_mid) << "\" text-anchor=\"middle\" "
            << "fill=\"#777\">no evaluation yet</text>\n";

    // Speed: step 0 has no measured speed (nothing trained before it), so only positive speeds are drawn.
    std::ostringstream speed_path, speed_dots;
    bool any_speed = false;
    for (const MetricRow& r : rows) {
        if (!(std::isfinite(r.tokens_per_sec) && r.tokens_per_sec > 0)) continue;
        const double sx = x(static_cast<double>(r.step)), sy = ys(r.tokens_per_sec);
        speed_path << (any_speed ? " L" : "M") << px(sx) << ',' << px(sy);
        speed_dots << "<circle cx=\"" << px(sx) << "\" cy=\"" << px(sy) << "\" r=\"2.5\"/>";
        any_speed = true;
    }
    if (any_speed)
        svg << "<g clip-path=\"url(#speed-area)\" fill=\"#2ca02c\"><path d=\"" << speed_path.str()
            << "\" fill=\"none\" stroke=\"#2ca02c\" stroke-width=\"2\"/>" << (rows.size() <= 40 ? speed_dots.str() : "")
            << "</g>\n";
    else
        svg << "<text x=\"" << px(left + plot_w / 2) << "\" y=\"" << px(speed_mid + 4) << "\" text-anchor=\"middle\" "
            << "fill=\"#777\">tokens/s: no speed measured yet (it is measured between evaluations)</text>\n";
    svg << "</svg>\n";
    return svg.str();
}

}  // namespace babygpt_cli
