#include "evaluate/plot.h"

#include "common/fs.h"

#include <fmt/format.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <unistd.h>

namespace rawmed::eval {

namespace {

// A string safe inside gnuplot double quotes.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n' || c == '\r') c = ' ';
    out += c;
  }
  return out + "\"";
}

std::string shorten(const std::string& text, size_t max = 28) {
  return text.size() <= max ? text : text.substr(0, max - 1) + "~";
}

std::string header(const PlotOptions& o) {
  std::string s = "set encoding utf8\nset key noenhanced top right font ',9'\nset grid lc rgb '#dddddd'\n";
  s += "set border lc rgb '#666666'\n";
  if (!o.title.empty()) s += "set title noenhanced " + quoted(o.title) + " font ',11'\n";
  if (!o.xlabel.empty()) s += "set xlabel noenhanced " + quoted(o.xlabel) + "\n";
  if (!o.ylabel.empty()) s += "set ylabel noenhanced " + quoted(o.ylabel) + "\n";
  if (o.log_x) s += "set logscale x\n";
  return s;
}

const char* kColors[] = {"#1f77b4", "#d62728", "#7f7f7f", "#2ca02c", "#9467bd"};

}  // namespace

std::string run_gnuplot(const std::string& script, int width, int height) {
  static std::atomic<int> counter{0};
  fs::path tmp = fs::temp_directory_path() / fmt::format("rawmed-plot-{}-{}.gp", getpid(), counter++);
  std::string full = fmt::format("set terminal svg size {},{} font 'Helvetica,10' background rgb 'white'\n", width,
                                 height) +
                     script;
  {
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return "<p class=note>figure not drawn: cannot write a temporary file</p>";
    std::fwrite(full.data(), 1, full.size(), f);
    std::fclose(f);
  }
  std::string cmd = fmt::format("gnuplot '{}' 2>/dev/null", tmp.string());
  std::string svg;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buffer[65536];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) svg.append(buffer, n);
    pclose(p);
  }
  std::error_code ec;
  fs::remove(tmp, ec);
  auto start = svg.find("<svg");
  if (start == std::string::npos)
    return "<p class=note>figure not drawn: gnuplot is not installed or failed (apt package gnuplot-nox)</p>";
  return svg.substr(start);
}

std::string line_plot_svg(const std::vector<Series>& series, const PlotOptions& o) {
  std::string script = header(o), plot = "plot ";
  size_t drawn = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    if (s.x.empty()) continue;
    script += fmt::format("$d{} << EOD\n", i);
    for (size_t k = 0; k < s.x.size(); ++k)
      if (std::isfinite(s.x[k]) && std::isfinite(s.y[k])) script += fmt::format("{:.6g} {:.6g}\n", s.x[k], s.y[k]);
    script += "EOD\n";
    plot += fmt::format("{}$d{} using 1:2 with {} lw 2 lc rgb '{}' title {}", drawn ? ", " : "", i,
                        o.steps ? "steps" : "lines", kColors[i % 5], quoted(s.title));
    ++drawn;
  }
  if (!drawn) return "<p class=note>no data</p>";
  return run_gnuplot(script + plot + "\n", o.width, o.height);
}

std::string bar_plot_svg(const std::vector<std::string>& labels, const std::vector<std::string>& titles,
                         const std::vector<std::vector<double>>& values, const PlotOptions& o) {
  if (labels.empty()) return "<p class=note>no data</p>";
  std::string script = header(o);
  script += "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 border -1\n";
  script += "set boxwidth 0.9\nset xtics rotate by -40 left noenhanced font ',8'\nset yrange [0:*]\n";
  script += "$d << EOD\n";
  for (size_t l = 0; l < labels.size(); ++l) {
    script += quoted(shorten(labels[l]));
    for (const auto& v : values) script += fmt::format(" {:.6g}", std::isfinite(v[l]) ? v[l] : 0.0);
    script += "\n";
  }
  script += "EOD\nplot ";
  for (size_t s = 0; s < titles.size(); ++s)
    script += fmt::format("{}$d using {}:xtic(1) lc rgb '{}' title {}", s ? ", " : "", s + 2, kColors[s % 5],
                          quoted(titles[s]));
  return run_gnuplot(script + "\n", o.width, o.height);
}

std::string heatmap_svg(const std::vector<double>& m, size_t rows, size_t cols, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, double lo, double hi, const PlotOptions& o) {
  if (rows == 0 || cols == 0) return "<p class=note>no data</p>";
  std::string script = header(o);
  script += fmt::format("set cbrange [{}:{}]\nset palette defined ({} '#2166ac', {} '#f7f7f7', {} '#b2182b')\n", lo, hi,
                        lo, (lo + hi) / 2, hi);
  script += "unset grid\nset yrange [] reverse\nset xtics rotate by -45 left font ',8'\nset ytics font ',8'\n";
  script += fmt::format("set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n", cols - 0.5, rows - 0.5);
  auto tics = [&](const std::vector<std::string>& labels) {
    std::string t = "(";
    for (size_t i = 0; i < labels.size(); ++i) t += fmt::format("{}{} {}", i ? ", " : "", quoted(shorten(labels[i], 18)), i);
    return t + ")";
  };
  script += "set xtics noenhanced " + tics(col_labels) + "\nset ytics noenhanced " + tics(row_labels) + "\n";
  script += "$m << EOD\n";
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) script += fmt::format("{:.4f} ", std::isfinite(m[i * cols + j]) ? m[i * cols + j] : 0.0);
    script += "\n";
  }
  script += "EOD\nplot $m matrix with image pixels notitle\n";
  return run_gnuplot(script, o.width, o.height);
}

}  // namespace rawmed::eval
