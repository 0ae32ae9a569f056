// report.html: one self-contained page (inline CSS and SVG, no scripts, no network): the summary
// table with each headline score next to its noise floor, then each section's details and figures.
#include "evaluate/evaluate.h"
#include "evaluate/metrics.h"
#include "evaluate/plot.h"
#include "evaluate/table_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>

namespace rawmed::eval {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(const nlohmann::json& v) {
  if (v.is_number_integer()) return fmt::format("{}", v.get<int64_t>());
  if (v.is_number()) {
    double d = v.get<double>();
    return std::abs(d) >= 100 ? fmt::format("{:.1f}", d) : fmt::format("{:.3f}", d);
  }
  if (v.is_string()) return esc(v.get<std::string>());
  return "&ndash;";
}

const nlohmann::json& at(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}

const char* kStyle = R"(
body{font-family:Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;line-height:1.4}
h1{font-size:24px;margin-bottom:4px}h2{border-bottom:2px solid #ccc;padding-bottom:4px;margin-top:36px}
h3{margin-top:20px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:8px}.figs>div{border:1px solid #eee}
.note{color:#777;font-size:12px}.meta{color:#555;font-size:13px}
.better{color:#777;font-size:12px}
)";

// ECDF points of a sample (at most ~300 points).
Series ecdf(std::string title, std::vector<double> v, double shift = 0) {
  Series s{std::move(title), {}, {}};
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  std::vector<size_t> run_ends;  // last index of each run of equal values
  for (size_t i = 0; i < v.size(); ++i)
    if (i + 1 == v.size() || v[i + 1] != v[i]) run_ends.push_back(i);
  size_t step = std::max<size_t>(1, run_ends.size() / 300);
  for (size_t k = 0; k < run_ends.size(); k += step) {
    s.x.push_back(v[run_ends[k]] + shift);
    s.y.push_back(static_cast<double>(run_ends[k] + 1) / v.size());
  }
  s.x.push_back(v.back() + shift);
  s.y.push_back(1.0);
  return s;
}

// Histogram (density per bin) of values on fixed edges.
Series histogram(std::string title, const std::vector<double>& v, double lo, double hi, int bins) {
  Series s{std::move(title), {}, {}};
  if (v.empty() || !(hi > lo)) return s;
  std::vector<double> counts(bins, 0);
  for (double x : v) {
    int b = static_cast<int>((x - lo) / (hi - lo) * bins);
    counts[std::clamp(b, 0, bins - 1)] += 1;
  }
  double width = (hi - lo) / bins;
  for (int b = 0; b < bins; ++b) {
    s.x.push_back(lo + b * width);
    s.y.push_back(counts[b] / v.size());
  }
  s.x.push_back(hi);
  s.y.push_back(counts[bins - 1] / v.size());
  return s;
}

struct Events {
  std::vector<double> counts, gaps, times;
};

Events events_of(const Database& db) {
  Events e;
  for (size_t s = 0; s < db.stays.size(); ++s) {
    auto ev = db.stay_events(s);
    e.counts.push_back(static_cast<double>(ev.size()));
    for (size_t i = 0; i < ev.size(); ++i) {
      e.times.push_back(ev[i].minute / 60.0);
      if (i) e.gaps.push_back(ev[i].minute - ev[i - 1].minute);
    }
  }
  return e;
}

std::string fig(const std::string& svg) { return "<div>" + svg + "</div>"; }

// Share of rows per item, for the top items of real train.
std::string item_frequency_figure(const Table& train, const Table& syn, const Table& test, const StringPool& pool) {
  const Table* sides[] = {&train, &syn, &test};
  std::vector<std::map<int32_t, double>> shares(3);
  for (int k = 0; k < 3; ++k) {
    const Table& t = *sides[k];
    const auto& ids = t.columns[t.item].ids;
    for (int32_t id : ids)
      if (id >= 0) shares[k][id] += 1.0 / static_cast<double>(ids.size());
  }
  std::vector<std::pair<double, int32_t>> order;
  for (auto& [id, share] : shares[0]) order.push_back({-share, id});
  std::sort(order.begin(), order.end());
  std::vector<std::string> labels;
  std::vector<std::vector<double>> values(3);
  for (size_t i = 0; i < std::min<size_t>(12, order.size()); ++i) {
    labels.push_back(pool.str(order[i].second));
    for (int k = 0; k < 3; ++k) values[k].push_back(shares[k].count(order[i].second) ? shares[k][order[i].second] : 0);
  }
  PlotOptions o = plot_options(train.name() + ": share of rows per item (top 12)", "", "share of rows", 560, 340);
  return bar_plot_svg(labels, {"real train", "synthetic", "real holdout"}, values, o);
}

// Value histograms of the most frequent items' first numeric column.
std::string value_histograms(const Table& train, const Table& syn, const Table& test, const StringPool& pool, int k) {
  int c = -1;
  for (size_t i = 0; i < train.columns.size(); ++i)
    if (train.columns[i].is_numeric()) {
      c = static_cast<int>(i);
      break;
    }
  if (c < 0 || train.item < 0) return "";
  const std::string& cname = train.columns[c].name;
  auto groups_train = rows_by_id(train.columns[train.item].ids);
  auto groups_syn = rows_by_id(syn.columns[syn.item].ids);
  auto groups_test = rows_by_id(test.columns[test.item].ids);
  std::vector<std::pair<size_t, int32_t>> order;
  for (auto& [id, rows] : groups_train)
    if (has_value(train.columns[c], &rows)) order.push_back({rows.size(), id});
  std::sort(order.rbegin(), order.rend());
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(k, order.size()); ++i) {
    int32_t id = order[i].second;
    auto values = [&](const Table& t, const auto& groups) {
      auto it = groups.find(id);
      return it == groups.end() ? std::vector<double>{}
                                : non_null_values(t.columns[t.column_index(cname)], &it->second);
    };
    auto vr = values(train, groups_train), vs = values(syn, groups_syn), vt = values(test, groups_test);
    double lo = quantile(vr, 0.01), hi = quantile(vr, 0.99);
    if (!(hi > lo)) lo -= 0.5, hi += 0.5;
    PlotOptions o = plot_options(fmt::format("{}: {} ({})", train.name(), pool.str(id), cname), "", "share", 380,
                                 250, false, true);
    out += fig(line_plot_svg({histogram("real train", vr, lo, hi, 30), histogram("synthetic", vs, lo, hi, 30),
                              histogram("real holdout", vt, lo, hi, 30)},
                             o));
  }
  return out;
}

// One row's two intervals as horizontal bars on a shared axis (inline SVG): synthetic (top),
// noise floor (bottom); the dot is the mean.
std::string interval_bars(const nlohmann::json& syn, const nlohmann::json& floor) {
  auto get = [](const nlohmann::json& j, const char* k) { return j.is_object() && j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN; };
  double values[] = {get(syn, "lo"), get(syn, "hi"), get(floor, "lo"), get(floor, "hi")};
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return "";
  double pad = std::max((hi - lo) * 0.1, 1e-6);
  lo -= pad, hi += pad;
  const double width = 180;
  auto x = [&](double v) { return 4 + (v - lo) / (hi - lo) * (width - 8); };
  std::string svg = fmt::format("<svg width={} height=26 xmlns='http://www.w3.org/2000/svg'>", width);
  auto bar = [&](const nlohmann::json& j, double y, const char* color) {
    double a = get(j, "lo"), b = get(j, "hi"), m = get(j, "mean");
    if (!std::isfinite(a) || !std::isfinite(b)) return;
    svg += fmt::format("<rect x='{:.1f}' y='{}' width='{:.1f}' height='6' fill='{}' opacity='0.6'/>", x(a), y,
                       std::max(1.0, x(b) - x(a)), color);
    if (std::isfinite(m)) svg += fmt::format("<circle cx='{:.1f}' cy='{}' r='3' fill='{}'/>", x(m), y + 3, color);
  };
  bar(syn, 3, "#d62728");
  bar(floor, 15, "#1f77b4");
  return svg + "</svg>";
}

std::string interval_text(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("mean") || j["mean"].is_null()) return "&ndash;";
  return fmt::format("{} [{}, {}]", num(j["mean"]), num(j["lo"]), num(j["hi"]));
}

std::string summary_table(const nlohmann::json& metrics) {
  const auto& r = at(metrics, "resampling");
  std::string h = fmt::format(
      "<p class=note>Holdout (noise floor): {} ({} stays). Each side is scored against real train at n = {} stays, "
      "{} times (bootstrap draws of whole patients; privacy: half of the holdout scored, the other half as non-members). Intervals are the 5th "
      "to 95th percentiles (90%); <span style='color:#d62728'>red</span> = candidate, <span "
      "style='color:#1f77b4'>blue</span> = noise floor. \"within the noise floor\": the intervals overlap.</p>",
      esc(at(at(metrics, "holdout"), "splits").is_string() ? at(at(metrics, "holdout"), "splits").get<std::string>() : ""),
      num(at(at(metrics, "holdout"), "stays")), num(at(r, "n")), num(at(r, "resamples")));
  h += "<table><tr><th>Metric</th><th>Candidate (full)</th><th>Candidate at n: mean [90%]</th><th>Real holdout: mean "
       "[90%]</th><th>Intervals</th><th>Verdict</th><th>Better</th><th>Paper (MIMIC-IV)</th></tr>";
  for (const auto& row : metrics["summary"]) {
    std::string better = row.value("better", "");
    if (row.contains("expected") && !row["expected"].is_null()) better += " (" + num(row["expected"]) + ")";
    const auto& si = at(row, "synthetic_interval");
    const auto& fi = at(row, "noise_floor_interval");
    std::string verdict = row.value("verdict", "");
    const char* color = verdict.rfind("within", 0) == 0 ? "#2a7" : verdict.rfind("worse", 0) == 0 || verdict.rfind("outside", 0) == 0 ? "#c33" : "#555";
    h += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style='color:{}'>{}</td><td "
        "class=better>{}</td><td>{}</td></tr>",
        esc(row["label"]), num(row["synthetic"]), si.is_null() ? num(row["synthetic"]) : interval_text(si),
        fi.is_null() ? num(row["noise_floor"]) : interval_text(fi), interval_bars(si, fi), color, esc(verdict),
        esc(better), num(at(row, "anchor_paper")));
  }
  return h + "</table><p class=note>For utility the noise floor is the model trained on real data (TRTR); its "
             "intervals come from cross-validation folds (or seeds). Predictive similarity and next-event prediction are "
             "one model per side (no interval). Paper figures: full MIMIC-IV, tens of thousands of stays; on the demos "
             "only the noise floor is a fair bar.</p>";
}

// A two-column table of every scalar of a section (synthetic vs real holdout).
std::string scalar_table(const nlohmann::json& section) {
  const auto& syn = at(section, "synthetic");
  const auto& test = at(section, "real_holdout");
  std::string h = "<table><tr><th>Number</th><th>Synthetic</th><th>Real holdout</th></tr>";
  if (!syn.is_object()) return "";
  for (auto& [key, value] : syn.items()) {
    if (value.is_object() || value.is_array()) continue;
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(key), num(value), num(at(test, key.c_str())));
  }
  return h + "</table>";
}

std::string fidelity_html(const nlohmann::json& section, const Database& train, const Database& syn,
                          const Database& test, const StringPool& pool, const EvalConfig& config) {
  std::string h = "<h2 id=fidelity>Column fidelity</h2>" + scalar_table(section);
  h += "<p class=note>CDE: KS statistic (numeric) or Jensen-Shannon distance, base 2 (categorical), per column. "
       "I-CDE: the same on each item's rows, averaged over an item's columns; items with at least " +
       std::to_string(config.min_item_rows) + " real train rows; an item absent from the scored data scores 1.</p>";
  h += "<h3>Per column</h3><table><tr><th>Table.column</th><th>Type</th><th>CDE syn</th><th>CDE test</th>"
       "<th>Missing real</th><th>Missing syn</th><th>Missing test</th></tr>";
  const auto& cs = at(at(section, "synthetic"), "columns");
  const auto& ct = at(at(section, "real_holdout"), "columns");
  for (size_t i = 0; i < cs.size(); ++i)
    h += fmt::format("<tr><td>{}.{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                     esc(cs[i]["table"]), esc(cs[i]["column"]), esc(cs[i]["type"]), num(at(cs[i], "score")),
                     num(i < ct.size() ? at(ct[i], "score") : nullptr), num(cs[i]["missing_real"]),
                     num(cs[i]["missing_other"]), num(i < ct.size() ? ct[i]["missing_other"] : nullptr));
  h += "</table><h3>I-CDE per table</h3><table><tr><th>Table</th><th>I-CDE syn</th><th>I-CDE test</th><th>Items</th>"
       "<th>Items absent syn</th><th>Items absent test</th></tr>";
  for (auto& [name, e] : at(at(section, "synthetic"), "icde_tables").items()) {
    const auto& t = at(at(at(section, "real_holdout"), "icde_tables"), name.c_str());
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(name),
                     num(e["icde"]), num(at(t, "icde")), num(e["items"]), num(e["items_absent"]),
                     num(at(t, "items_absent")));
  }
  h += "</table><h3>Marginals of the most frequent items</h3>";
  for (size_t t = 0; t < train.tables.size(); ++t) {
    const Table& rt = train.tables[t];
    if (rt.item < 0) continue;
    const Table& st = syn.tables[syn.table_index(rt.name())];
    const Table& tt = test.tables[test.table_index(rt.name())];
    h += "<div class=figs>" + fig(item_frequency_figure(rt, st, tt, pool)) +
         value_histograms(rt, st, tt, pool, config.histogram_items) + "</div>";
  }
  return h;
}

std::string associations_html(const nlohmann::json& section) {
  std::string h = "<h2 id=associations>Column associations</h2>" + scalar_table(section);
  h += "<p class=note>Matrices of Pearson r (numeric-numeric), correlation ratio (categorical-numeric) and Theil's "
       "U(row | column) (categorical-categorical, asymmetric); score = mean |real - other| off the diagonal.</p>";
  h += "<table><tr><th>Table</th><th>PCC syn</th><th>PCC test</th><th>I-PCC syn</th><th>I-PCC test</th>"
       "<th>Items eligible</th><th>Scored syn</th><th>Scored test</th></tr>";
  const auto& ts = at(at(section, "synthetic"), "tables");
  const auto& tt = at(at(section, "real_holdout"), "tables");
  for (auto& [name, e] : ts.items()) {
    const auto& t = at(tt, name.c_str());
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                     esc(name), num(at(e, "pcc")), num(at(t, "pcc")), num(at(e, "ipcc")), num(at(t, "ipcc")),
                     num(at(e, "ipcc_items_eligible")), num(at(e, "ipcc_items_scored")), num(at(t, "ipcc_items_scored")));
  }
  h += "</table>";
  for (auto& [name, e] : ts.items()) {
    if (!e.contains("matrix_real")) continue;
    auto cols = e["columns"].get<std::vector<std::string>>();
    size_t k = cols.size();
    auto draw = [&](const nlohmann::json& m, const std::string& title) {
      PlotOptions o = plot_options(title, "", "", 360, 330);
      return fig(heatmap_svg(m.get<std::vector<double>>(), k, k, cols, cols, -1, 1, o));
    };
    h += "<h3>" + esc(name) + "</h3><div class=figs>" + draw(e["matrix_real"], name + ": real train") +
         draw(e["matrix_other"], name + ": synthetic");
    const auto& t = at(tt, name.c_str());
    if (t.contains("matrix_other")) h += draw(t["matrix_other"], name + ": real test");
    h += "</div>";
  }
  return h;
}

std::string intertable_html(const nlohmann::json& section) {
  std::string h = "<h2 id=intertable>Inter-table associations</h2>" + scalar_table(section);
  h += "<p class=note>For each pair of tables: phi coefficient between the presence of item a (table A) and item b "
       "(table B) in a stay, over the most frequent items; score = mean |real - other|.</p>";
  const auto& ps = at(at(section, "synthetic"), "pairs");
  const auto& pt = at(at(section, "real_holdout"), "pairs");
  for (size_t i = 0; i < ps.size(); ++i) {
    const auto& p = ps[i];
    h += fmt::format("<h3>{} &times; {}: synthetic {}, real holdout {}</h3>", esc(p["table_a"]), esc(p["table_b"]),
                     num(p["mean_abs_phi_diff"]), num(i < pt.size() ? pt[i]["mean_abs_phi_diff"] : nullptr));
    h += "<table><tr><th>Item A</th><th>Item B</th><th>phi real train</th><th>phi synthetic</th></tr>";
    for (const auto& d : p["top_differences"])
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(d["item_a"]), esc(d["item_b"]),
                       num(d["phi_real"]), num(d["phi_other"]));
    h += "</table>";
  }
  return h;
}

std::string temporal_html(const nlohmann::json& section, const Database& train, const Database& syn,
                          const Database& test) {
  std::string h = "<h2 id=temporal>Temporal</h2>" + scalar_table(section);
  h += "<table><tr><th>Table</th><th>gap KS syn</th><th>gap KS test</th><th>time KS syn</th><th>time KS test</th>"
       "<th>count KS syn</th><th>count KS test</th></tr>";
  for (auto& [name, e] : at(at(section, "synthetic"), "tables").items()) {
    const auto& t = at(at(at(section, "real_holdout"), "tables"), name.c_str());
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                     esc(name), num(at(e, "gap_ks")), num(at(t, "gap_ks")), num(at(e, "time_ks")),
                     num(at(t, "time_ks")), num(at(e, "count_ks")), num(at(t, "count_ks")));
  }
  h += "</table>";
  Events er = events_of(train), es = events_of(syn), et = events_of(test);
  h += "<div class=figs>";
  h += fig(line_plot_svg({ecdf("real train", er.counts), ecdf("synthetic", es.counts), ecdf("real holdout", et.counts)},
                         plot_options("Events per stay (ECDF)", "events", "share of stays", 420, 280, false, true)));
  h += fig(line_plot_svg({ecdf("real train", er.gaps, 1), ecdf("synthetic", es.gaps, 1), ecdf("real holdout", et.gaps, 1)},
                         plot_options("Inter-event gaps (ECDF)", "gap + 1 (minutes)", "share of gaps", 420, 280, true, true)));
  double hi = train.schema.window_hours;
  h += fig(line_plot_svg({histogram("real train", er.times, 0, hi, 24), histogram("synthetic", es.times, 0, hi, 24),
                          histogram("real holdout", et.times, 0, hi, 24)},
                         plot_options("Event times", "hours since admission", "share of events", 420, 280, false, true)));
  return h + "</div>";
}

std::string attribute_table(const nlohmann::json& section) {
  const auto& a = at(at(section, "synthetic"), "attribute_inference");
  if (!a.is_object()) return "";
  std::string h = "<p class=note>Sensitive items: ";
  for (const auto& item : at(a, "sensitive_items")) h += esc(item.get<std::string>()) + "; ";
  return h + "</p>";
}

// Which tasks apply to this dataset, and why the others do not.
std::string task_table(const nlohmann::json& utility) {
  std::string h = "<table><tr><th>Task</th><th>Applies</th><th>TRTR AUROC [90%]</th><th>TSTR AUROC [90%]</th><th>Why "
                  "not</th></tr>";
  for (const auto& t : at(utility, "tasks")) {
    bool applies = t.value("available", false) && t.value("averaged", false);
    auto auc = [&](const char* mode) {
      const auto& m = at(t, mode);
      if (m.contains("auroc_interval") && m["auroc_interval"].is_object()) return interval_text(m["auroc_interval"]);
      return num(at(m, "auroc_mean"));
    };
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(t.value("name", "")),
                     applies ? "yes" : "no", auc("trtr"), auc("tstr"), esc(t.value("reason", "")));
  }
  return h + "</table>";
}

std::string utility_html(const nlohmann::json& sections) {
  std::string h = "<h2 id=utility>Utility</h2>";
  const auto& u = at(sections, "utility");
  if (u.contains("headline")) {
    h += "<table><tr><th>Number</th><th>Value</th></tr>";
    for (auto& [k, v] : u["headline"].items()) {
      std::string value = v.is_object() && v.contains("mean") ? interval_text(v) + " (mean [90%])"
                          : v.is_array() || v.is_object()    ? esc(v.dump())
                                                             : num(v);
      h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", esc(k), value);
    }
    h += "</table><p class=note>" + esc(u.value("method", "")) + "</p>" + task_table(u);
    std::vector<std::string> labels;
    std::vector<std::vector<double>> values(2);
    for (const auto& t : at(u, "tasks")) {
      if (!t.contains("trtr") || !t.contains("tstr")) continue;
      labels.push_back(t.value("name", "task"));
      auto value = [](const nlohmann::json& m) {
        return m.contains("auroc_mean") && m["auroc_mean"].is_number() ? m["auroc_mean"].get<double>() : NAN;
      };
      values[0].push_back(value(t["trtr"]));
      values[1].push_back(value(t["tstr"]));
    }
    if (!labels.empty())
      h += "<div class=figs>" +
           fig(bar_plot_svg(labels, {"TRTR (real train)", "TSTR (synthetic)"}, values,
                            plot_options("Utility tasks: AUROC on real stays", "", "AUROC", 640, 340))) +
           "</div>";
  } else {
    h += "<p class=note>" + esc(u.is_null() ? "not computed" : u.value("note", u.dump())) + "</p>";
  }
  for (const char* name : {"predictive_similarity", "next_event"}) {
    const auto& s = at(sections, name);
    h += fmt::format("<h3>{}</h3>", name);
    if (s.contains("headline") && s["headline"].is_object()) {
      h += "<table><tr><th>Number</th><th>Value</th></tr>";
      for (auto& [k, v] : s["headline"].items())
        h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", esc(k), v.is_array() ? esc(v.dump()) : num(v));
      h += "</table>";
    } else {
      h += "<p class=note>" + esc(s.is_null() ? "not computed" : s.dump()) + "</p>";
    }
  }
  return h;
}

std::string privacy_html(const nlohmann::json& s) {
  return "<h2 id=privacy>Privacy</h2>" + scalar_table(s) +
         "<p class=note>Per patient across all tables. Distance: " + esc(at(at(s, "synthetic"), "distance").is_string() ? at(at(s, "synthetic"), "distance").get<std::string>() : "") +
         ". DCR share: share of scored patients closer to real train than to the non-members; expected about " +
         "n_train / (n_train + n_nonmembers). Membership attack: members = train patients, non-members = holdout "
         "patients, score = minus the distance to the closest scored stay. Attribute inference: from age, gender and "
         "events per table, the nearest scored stay's presence of sensitive items is the guess; the advantage is the "
         "accuracy on members minus that on non-members. The real holdout column scores half of the holdout's "
         "patients, with the other half as non-members. Paper anchor: membership attack accuracy 0.498 (ideal 0.5).</p>" +
         attribute_table(s);
}

// A subgroup without stays on a side has no intervals and no verdict.
std::string subgroup_cell(const nlohmann::json& group, const char* key) {
  const auto& verdict = at(at(at(group, "intervals"), key), "verdict");
  return fmt::format("<td>{}</td><td>{}</td><td>{}</td>", num(at(at(group, "synthetic"), key)),
                     num(at(at(group, "real_holdout"), key)), esc(verdict.is_string() ? verdict.get<std::string>() : "-"));
}

std::string subgroups_html(const nlohmann::json& s) {
  std::string h = "<h2 id=subgroups>Subgroups</h2><p class=note>" + esc(s.value("note", "")) + "</p>";
  if (s.contains("conditions")) {
    h += "<h3>Requested against generated (conditioned generation)</h3><table><tr><th>Gender</th><th>Age group</th>"
         "<th>Requested</th><th>Written</th><th>Gender matches</th><th>Age group matches</th></tr>";
    for (const auto& c : s["conditions"])
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                       esc(c.value("gender", "")), esc(c.value("age_group", "")), num(at(c, "requested")),
                       num(at(c, "written")), num(at(c, "gender_matches")), num(at(c, "age_group_matches")));
    h += "</table>";
  }
  h += "<table><tr><th>Subgroup</th><th>Train stays</th><th>Synthetic stays</th><th>Holdout stays</th>"
       "<th>Events/stay KS</th><th>noise floor</th><th>verdict</th><th>Item JS</th><th>noise floor</th><th>verdict</th></tr>";
  for (const auto& g : at(s, "subgroups"))
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}{}</tr>", esc(g.value("subgroup", "")),
                     num(at(g, "train_stays")), num(at(at(g, "synthetic"), "stays")), num(at(at(g, "real_holdout"), "stays")),
                     subgroup_cell(g, "count_ks"), subgroup_cell(g, "item_js"));
  return h + "</table>";
}

using Renderer = std::function<std::string(const nlohmann::json&)>;

struct SectionBlock {
  const char* name;   // the section's key in metrics.json, and the block's anchor
  const char* title;  // its link text
  Renderer render;
  bool guarded = true;  // a failed section shows its error instead
};

}  // namespace

std::string render_report_html(const nlohmann::json& metrics, const Database& train, const Database& test,
                               const Database& synthetic, const StringPool& pool, const EvalConfig& config) {
  const auto& sections = metrics["sections"];
  std::string h = "<!DOCTYPE html><html><head><meta charset=utf-8><title>rawmed evaluation</title><style>";
  h += kStyle;
  h += "</style></head><body>";
  h += fmt::format("<h1>rawmed evaluation: {}</h1>", esc(metrics.value("dataset", "")));
  h += fmt::format("<p class=meta>Synthetic: {} ({} stays, {} rows). Real train: {} stays, {} rows. Real holdout: {} "
                   "stays, {} rows. Created {} by rawmed {}.</p>",
                   esc(synthetic.dir.string()), synthetic.stays.size(), synthetic.total_rows(), train.stays.size(),
                   train.total_rows(), test.stays.size(), test.total_rows(), esc(metrics.value("created_utc", "")),
                   esc(metrics.value("rawmed_version", "")));
  auto guarded = [&](const char* name, const Renderer& fn) {
    const auto& s = at(sections, name);
    if (s.contains("error")) return fmt::format("<h2>{}</h2><p class=note>failed: {}</p>", name, esc(s["error"]));
    return fn(s);
  };
  // The details block of each section that has one, in report order (a section without one shows
  // in the summary table only). `utility` also renders the other model sections.
  const std::vector<SectionBlock> blocks = {
      {"fidelity", "fidelity",
       [&](const nlohmann::json& s) { return fidelity_html(s, train, synthetic, test, pool, config); }},
      {"associations", "associations", [&](const nlohmann::json& s) { return associations_html(s); }},
      {"intertable", "inter-table", [&](const nlohmann::json& s) { return intertable_html(s); }},
      {"temporal", "temporal", [&](const nlohmann::json& s) { return temporal_html(s, train, synthetic, test); }},
      {"privacy", "privacy", [&](const nlohmann::json& s) { return privacy_html(s); }},
      {"validity", "validity",
       [&](const nlohmann::json& s) { return "<h2 id=validity>Validity</h2>" + scalar_table(s); }},
      {"utility", "utility", [&](const nlohmann::json&) { return utility_html(sections); }, false},
      {"subgroups", "subgroups", [&](const nlohmann::json& s) { return subgroups_html(s); }},
  };
  std::string nav;
  for (const auto& block : blocks)
    nav += fmt::format("{}<a href=#{}>{}</a>", nav.empty() ? "" : " &middot; ", block.name, block.title);
  h += "<p class=meta>Sections: " + nav + "</p>";
  h += "<h2>Summary</h2>" + summary_table(metrics);
  for (const auto& block : blocks) h += block.guarded ? guarded(block.name, block.render) : block.render(nullptr);
  h += "<h2>Run</h2><table><tr><th>Section</th><th>Seconds</th></tr>";
  for (auto& [k, v] : metrics["seconds"].items()) h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", esc(k), num(v));
  h += "</table><p class=note>Every number is in metrics.json next to this file.</p></body></html>\n";
  return h;
}

}  // namespace rawmed::eval
