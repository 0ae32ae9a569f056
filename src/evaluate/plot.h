#pragma once
// Figures for the HTML report, drawn by gnuplot (Debian package gnuplot-nox) as inline SVG. When
// gnuplot is missing or fails, a short note takes the figure's place so the report still renders.
#include <string>
#include <vector>

namespace rawmed::eval {

struct Series {
  std::string title;
  std::vector<double> x, y;
};

struct PlotOptions {
  std::string title, xlabel, ylabel;
  int width = 420, height = 280;
  bool log_x = false;
  bool steps = false;  // step lines (histograms, ECDFs) instead of straight segments
};

inline PlotOptions plot_options(std::string title, std::string xlabel, std::string ylabel, int width = 420,
                                int height = 280, bool log_x = false, bool steps = false) {
  PlotOptions o;
  o.title = std::move(title), o.xlabel = std::move(xlabel), o.ylabel = std::move(ylabel);
  o.width = width, o.height = height, o.log_x = log_x, o.steps = steps;
  return o;
}

// Line plot of several series.
std::string line_plot_svg(const std::vector<Series>& series, const PlotOptions& options);

// Clustered bar chart: one group per label, one bar per series (values[series][label]).
std::string bar_plot_svg(const std::vector<std::string>& labels, const std::vector<std::string>& series_titles,
                         const std::vector<std::vector<double>>& values, const PlotOptions& options);

// Heat map of a k x k row-major matrix in [lo, hi] with axis labels.
std::string heatmap_svg(const std::vector<double>& matrix, size_t rows, size_t cols,
                        const std::vector<std::string>& row_labels, const std::vector<std::string>& col_labels,
                        double lo, double hi, const PlotOptions& options);

// Runs gnuplot on a script (terminal and output are set here); returns the SVG or an HTML note.
std::string run_gnuplot(const std::string& script, int width, int height);

}  // namespace rawmed::eval
