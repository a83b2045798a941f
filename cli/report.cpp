#include "cli/report.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/file.h"

namespace dstc::cli {
namespace {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

// A small self-contained SVG line chart: axes, min/max labels, one polyline per series.
std::string svg_line_chart(const std::string& title, const std::string& x_label,
                           const std::string& y_label, const std::vector<Series>& series) {
  constexpr double kW = 640, kH = 360, kL = 60, kR = 20, kT = 40, kB = 50;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& s : series) {
    for (auto [x, y] : s.points) {
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  auto px = [&](double x) { return kL + (x - x0) / (x1 - x0) * (kW - kL - kR); };
  auto py = [&](double y) { return kH - kB - (y - y0) / (y1 - y0) * (kH - kT - kB); };
  static const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"};
  std::ostringstream svg;
  char buf[256];
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << kW / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">" << title
      << "</text>\n";
  std::snprintf(buf, sizeof(buf),
                "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n"
                "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n",
                kL, kH - kB, kW - kR, kH - kB, kL, kT, kL, kH - kB);
  svg << buf;
  std::snprintf(buf, sizeof(buf),
                "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.3g</text>\n"
                "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.3g</text>\n"
                "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.3g</text>\n"
                "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%.3g</text>\n",
                kL - 5, kH - kB, y0, kL - 5, kT + 4, y1, kL, kH - kB + 15, x0, kW - kR,
                kH - kB + 15, x1);
  svg << buf;
  svg << "<text x=\"" << (kL + kW - kR) / 2 << "\" y=\"" << kH - 12 << "\" text-anchor=\"middle\">"
      << x_label << "</text>\n"
      << "<text x=\"14\" y=\"" << (kT + kH - kB) / 2 << "\" transform=\"rotate(-90 14 "
      << (kT + kH - kB) / 2 << ")\" text-anchor=\"middle\">" << y_label << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* color = kColors[i % 5];
    svg << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
    for (auto [x, y] : series[i].points) svg << px(x) << "," << py(y) << " ";
    svg << "\"/>\n";
    for (auto [x, y] : series[i].points) {
      svg << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"3\" fill=\"" << color
          << "\"/>\n";
    }
    svg << "<text x=\"" << kW - kR - 5 << "\" y=\"" << kT + 15 * (i + 1)
        << "\" text-anchor=\"end\" fill=\"" << color << "\">" << series[i].name << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

double num(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * v);
  return buf;
}

// Reads the trainer's metrics JSONL (one object per optimizer step) if present.
Series metric_series(const std::string& path, const char* key, const std::string& name) {
  Series s{name, {}};
  auto text = read_file(path);
  if (!text) return s;
  std::istringstream in(*text);
  std::string line;
  double step = 0;
  while (std::getline(in, line)) {
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains(key) || !j[key].is_number()) continue;
    s.points.emplace_back(j.contains("step") ? j["step"].get<double>() : step,
                          j[key].get<double>());
    ++step;
  }
  return s;
}

}  // namespace

Status write_report(const std::string& run_dir, const Json& summary) {
  namespace fs = std::filesystem;
  std::ostringstream md;
  md << "# dstc run report: " << summary.value("run", "") << "\n\n"
     << "Held-out benchmark: `" << summary.value("benchmark", "") << "` ("
     << summary.value("eval_tasks", 0) << " tasks, pass@1).\n\n"
     << "| model | pass@1 |\n| --- | --- |\n"
     << "| base | " << pct(num(summary, "base_pass@1")) << " |\n"
     << "| final | " << pct(num(summary, "final_pass@1")) << " |\n\n";

  const Json& rounds = summary["rounds"];
  md << "## Rounds\n\n"
     << "| round | pass@1 before | pass@1 after | self-test validity | pass@J (train) | "
        "code pass rate | pairs | generate s | execute s | train s | eval s |\n"
     << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  Series pass{"pass@1", {}};
  if (!rounds.empty()) pass.points.emplace_back(0, num(rounds[0], "pass@1_before"));
  for (const auto& r : rounds) {
    const Json& sec = r.contains("seconds") ? r["seconds"] : Json::object();
    std::string main_selector = r.value("selector", "");
    size_t pairs = r.contains("selectors") && r["selectors"].contains(main_selector)
                       ? r["selectors"][main_selector]["selection"].value("pairs", size_t{0})
                       : 0;
    char row[512];
    std::snprintf(row, sizeof(row),
                  "| %d | %s | %s | %s | %s | %s | %zu | %.0f | %.0f | %.0f | %.0f |\n",
                  r.value("round", 0), pct(num(r, "pass@1_before")).c_str(),
                  pct(num(r, "pass@1_after")).c_str(), pct(num(r, "self_test_validity")).c_str(),
                  pct(num(r, "pass_at_J")).c_str(), pct(num(r, "code_pass_rate")).c_str(), pairs,
                  num(sec, "generate"), num(sec, "execute"), num(sec, "train"), num(sec, "eval"));
    md << row;
    pass.points.emplace_back(r.value("round", 0) + 1, num(r, "pass@1_after"));
  }

  for (const auto& r : rounds) {
    md << "\n## Round " << r.value("round", 0) << ": pair yield, skip reasons and label quality\n\n"
       << "Label quality: how often the chosen code passes the hidden tests and the rejected "
          "code fails them.\n\n"
       << "| selector | prompts | pairs | skip reasons | chosen correct | rejected wrong | "
          "label agrees |\n| --- | --- | --- | --- | --- | --- | --- |\n";
    if (!r.contains("selectors")) continue;
    for (const auto& [name, s] : r["selectors"].items()) {
      const Json& sel = s["selection"];
      std::string skips;
      if (sel.contains("skips")) {
        for (const auto& [reason, n] : sel["skips"].items()) {
          if (n.is_number() && n.get<int64_t>() > 0) {
            skips += (skips.empty() ? "" : ", ") + reason + " " + std::to_string(n.get<int64_t>());
          }
        }
      }
      const Json& audit = s["audit"];
      md << "| " << name << " | " << sel.value("prompts", 0) << " | " << sel.value("pairs", 0)
         << " | " << (skips.empty() ? "-" : skips) << " | " << pct(num(audit, "chosen_correct"))
         << " | " << pct(num(audit, "rejected_wrong")) << " | " << pct(num(audit, "label_agrees"))
         << " |\n";
    }
    if (r.contains("train")) {
      md << "\nTraining: `" << r["train"].dump() << "`\n";
    }
    if (r.contains("compare")) {
      // Same matrices and policy, other pairs or losses: what the selector itself is worth.
      md << "\nSame matrices, other training data (each trained from this round's input model):"
            "\n\n| variant | pairs | pass@1 after | change (points) |\n| --- | --- | --- | --- |\n";
      char row[256];
      std::snprintf(row, sizeof(row), "| %s (main) | %zu | %s | %+.1f |\n",
                    r.value("selector", "").c_str(),
                    r.contains("train") ? r["train"].value("pairs", size_t{0}) : size_t{0},
                    pct(num(r, "pass@1_after")).c_str(),
                    100 * (num(r, "pass@1_after") - num(r, "pass@1_before")));
      md << row;
      for (const auto& [variant, c] : r["compare"].items()) {
        std::snprintf(row, sizeof(row), "| %s | %zu | %s | %+.1f |\n", variant.c_str(),
                      c.contains("train") ? c["train"].value("pairs", size_t{0}) : size_t{0},
                      pct(num(c, "pass@1_after")).c_str(),
                      100 * (num(c, "pass@1_after") - num(r, "pass@1_before")));
        md << row;
      }
    }
  }

  DSTC_CHECK_OK(write_file_atomic((fs::path(run_dir) / "report_pass_at_1.svg").string(),
                                  svg_line_chart("held-out pass@1", "round", "pass@1", {pass})));
  md << "\n![pass@1 per round](report_pass_at_1.svg)\n";
  for (const auto& r : rounds) {
    if (!r.contains("train") || !r["train"].contains("metrics_path")) continue;
    std::string path = r["train"]["metrics_path"].get<std::string>();
    std::string round = std::to_string(r.value("round", 0));
    Series loss = metric_series(path, "loss", "loss");
    Series margin = metric_series(path, "rewards/margins", "reward margin");
    std::string file = "report_train_round" + round + ".svg";
    DSTC_CHECK_OK(write_file_atomic(
        (fs::path(run_dir) / file).string(),
        svg_line_chart("training, round " + round, "step", "value", {loss, margin})));
    md << "\n![training curves, round " << round << "](" << file << ")\n";
  }
  DSTC_CHECK_OK(
      write_file_atomic((fs::path(run_dir) / "report.json").string(), summary.dump(2) + "\n"));
  return write_file_atomic((fs::path(run_dir) / "report.md").string(), md.str());
}

}  // namespace dstc::cli
