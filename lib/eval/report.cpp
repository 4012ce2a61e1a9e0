#include "eval/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/cache.hpp"

namespace vstar::eval {

namespace {

Json MetricSummary(const Run& run, bool strict, bool sample_std) {
  Json m = Json::object();
  std::vector<double> splits;
  double base = -1, novel = -1;
  for (const auto& f : run.files) {
    if (strict && !f.has_candidates) return Json();
    double a = strict ? f.acc_strict() : f.acc_authors();
    if (f.group == "base") base = a;
    if (f.group == "novel") novel = a;
    if (f.group == "split") splits.push_back(a);
  }
  if (base >= 0) m["base"] = base;
  if (novel >= 0) m["novel"] = novel;
  if (base >= 0 && novel >= 0) m["hm"] = HarmonicMean(base, novel);
  if (!splits.empty()) {
    MeanStd ms = MeanAndStd(splits, sample_std);
    m["split_mean"] = ms.mean;
    m["split_std"] = ms.std;
    m["splits"] = splits.size();
  }
  return m;
}

std::string Pct(const Json& v) {
  if (!v.is_number()) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100.0 * v.get<double>());
  return buf;
}

std::string Escape(const std::string& s) {  // markdown table cell
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
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

// White -> dark blue by value in [0, 1].
void Colour(double v, int* r, int* g, int* b) {
  v = std::clamp(v, 0.0, 1.0);
  *r = static_cast<int>(std::lround(255 * (1 - v) + 8 * v));
  *g = static_cast<int>(std::lround(255 * (1 - v) + 48 * v));
  *b = static_cast<int>(std::lround(255 * (1 - v) + 107 * v));
}

double RowShare(const FileScore& s, size_t i, size_t j) {
  size_t row = 0;
  for (size_t v : s.confusion[i]) row += v;
  return row ? static_cast<double>(s.confusion[i][j]) / static_cast<double>(row) : 0.0;
}

}  // namespace

Json RunJson(const Run& run, bool sample_std) {
  Json j;
  j["name"] = run.name;
  Json files = Json::array();
  for (const auto& f : run.files) files.push_back(f.ToJson());
  j["files"] = files;
  j["summary"]["authors"] = MetricSummary(run, false, sample_std);
  j["summary"]["strict"] = MetricSummary(run, true, sample_std);
  j["std"] = sample_std ? "sample" : "population";
  return j;
}

Json MergeReports(const std::vector<Json>& reports) {
  Json out;
  out["runs"] = Json::array();
  for (const auto& r : reports) {
    if (r.contains("runs")) {
      for (const auto& x : r["runs"]) out["runs"].push_back(x);
    } else if (r.contains("files")) {
      out["runs"].push_back(r);
    } else {
      throw std::runtime_error("not a vs-eval report (no \"runs\" or \"files\")");
    }
  }
  return out;
}

std::string Markdown(const Json& report, bool per_class) {
  std::ostringstream md;
  md << "# Evaluation\n\n";
  md << "Accuracy in %. *authors*: AScripts/cresult/1.py matching (first answer tag, lower-case, no spaces, "
        "underscores, newlines or '*'); *strict*: answer mapped onto the candidate list by normalised exact "
        "match, unmapped answers wrong. HM = 2BN/(B+N).\n\n";
  md << "| run | metric | base | novel | HM | split mean ± std | files |\n|---|---|---|---|---|---|---|\n";
  for (const auto& run : report["runs"]) {
    for (const char* metric : {"authors", "strict"}) {
      const Json& m = run["summary"][metric];
      if (m.is_null()) continue;
      std::string split = m.contains("split_mean") ? Pct(m["split_mean"]) + " ± " + Pct(m["split_std"]) : "–";
      std::string files;
      for (const auto& f : run["files"]) {
        if (!files.empty()) files += ", ";
        files += Pct(f[std::string("accuracy_") + metric]);
      }
      md << "| " << Escape(run["name"]) << " | " << metric << " | " << Pct(m.value("base", Json())) << " | "
         << Pct(m.value("novel", Json())) << " | " << Pct(m.value("hm", Json())) << " | " << split << " | " << files
         << " |\n";
    }
  }
  for (const auto& run : report["runs"]) {
    md << "\n## " << Escape(run["name"]) << "\n\n";
    md << "| file | group | records | authors | strict | unmapped | ambiguous | empty | failed |\n"
          "|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& f : run["files"]) {
      md << "| " << Escape(f["name"]) << " | " << f["group"].get<std::string>() << " | " << f["total"] << " | "
         << Pct(f["accuracy_authors"]) << " | " << Pct(f["accuracy_strict"]) << " | " << f.value("unmapped", Json(0))
         << " | " << f.value("ambiguous", Json(0)) << " | " << f["empty"] << " | " << f["failed"] << " |\n";
    }
    if (!per_class) continue;
    for (const auto& f : run["files"]) {
      if (f["per_class"].empty()) continue;
      md << "\n### Per class (strict): " << Escape(f["name"]) << "\n\n| class | records | correct | accuracy |\n"
            "|---|---|---|---|\n";
      for (const auto& c : f["per_class"])
        md << "| " << Escape(c["class"]) << " | " << c["total"] << " | " << c["correct"] << " | "
           << Pct(c["accuracy"]) << " |\n";
    }
  }
  return md.str();
}

namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kInk(0, 0, 0), kGrey(110, 110, 110), kPaper(255, 255, 255);

cv::Size TextSize(const std::string& text, double scale) {
  int base = 0;
  cv::Size z = cv::getTextSize(text, kFont, scale, 1, &base);
  return {z.width, z.height + base};
}

// `text` with the top-left corner of its box at `at`.
void Text(cv::Mat& img, const std::string& text, cv::Point at, double scale, const cv::Scalar& colour) {
  int base = 0;
  cv::Size z = cv::getTextSize(text, kFont, scale, 1, &base);
  cv::putText(img, text, at + cv::Point(0, z.height), kFont, scale, colour, 1, cv::LINE_AA);
}

// `text` reading upwards, the bottom-left corner of its box at `at` (drawn on white paper).
void TextUp(cv::Mat& img, const std::string& text, cv::Point at, double scale, const cv::Scalar& colour) {
  const cv::Size z = TextSize(text, scale);
  cv::Mat strip(z.height + 2, z.width + 2, img.type(), kPaper);
  Text(strip, text, {1, 1}, scale, colour);
  cv::Mat up;
  cv::rotate(strip, up, cv::ROTATE_90_COUNTERCLOCKWISE);
  const cv::Rect where = cv::Rect(at.x, at.y - up.rows, up.cols, up.rows) & cv::Rect(0, 0, img.cols, img.rows);
  up(cv::Rect(where.x - at.x, where.y - (at.y - up.rows), where.width, where.height)).copyTo(img(where));
}

std::string Percent(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, 100.0 * v);
  return buf;
}

}  // namespace

void WriteConfusionPng(const FileScore& s, const std::filesystem::path& file) {
  if (s.classes.empty()) throw std::runtime_error("confusion matrix needs a candidate list");
  const int n = static_cast<int>(s.classes.size());
  std::vector<std::string> columns = s.classes;
  columns.emplace_back("(unmapped)");
  // Cells shrink with the number of classes; under 10 px the names no longer fit (the SVG has them
  // all, with a tooltip per cell), under 14 px the counts do not.
  const int cell = std::clamp(1600 / (n + 1), 6, 44);
  const bool names = cell >= 10;
  const double name_scale = std::clamp(cell / 88.0, 0.3, 0.45);
  const int pad = 14, gap = std::max(cell / 3, 4);
  int name_w = 0;
  if (names)
    for (const auto& c : columns) name_w = std::max(name_w, TextSize(c, name_scale).width);

  const std::string title = s.name + ": confusion matrix";
  const std::string subtitle = "rows: ground truth, columns: prediction mapped onto the candidates; "
                               "cell: records, colour: share of the row";
  size_t last_column = 0;
  for (const auto& row : s.confusion) last_column += row.back();
  const std::string footer = std::to_string(s.total) + " records, strict accuracy " + Percent(s.acc_strict(), 2) +
                             "; " + std::to_string(last_column) +
                             " in the last column (answers that map onto no single candidate)";
  const double title_scale = 0.65, small = 0.42, axis_scale = 0.5;
  const cv::Size title_z = TextSize(title, title_scale), sub_z = TextSize(subtitle, small),
                 foot_z = TextSize(footer, small), axis_z = TextSize("ground truth", axis_scale);

  const int head = pad + title_z.height + 6 + sub_z.height + 14;
  const int grid_x = pad + axis_z.height + 8 + name_w + 6;
  const int grid_y = head + axis_z.height + 8 + name_w + 6;
  const int grid_w = (n + 1) * cell + gap, grid_h = n * cell;
  const int bar_x = grid_x + grid_w + 28, bar_w = 16, bar_h = std::max(grid_h, 120);
  const int tick_w = TextSize("100%", small).width;
  const int w = std::max({bar_x + bar_w + 6 + tick_w + pad, pad + title_z.width + pad, pad + sub_z.width + pad,
                          pad + foot_z.width + pad});
  const int h = std::max(grid_y + grid_h, grid_y + bar_h) + 14 + foot_z.height + pad;
  cv::Mat img(h, w, CV_8UC3, kPaper);

  Text(img, title, {pad, pad}, title_scale, kInk);
  Text(img, subtitle, {pad, pad + title_z.height + 6}, small, kGrey);
  // Axis names: "prediction" over the column names, "ground truth" left of the row names.
  const cv::Size pred_z = TextSize("prediction", axis_scale);
  Text(img, "prediction", {grid_x + (grid_w - pred_z.width) / 2, head}, axis_scale, kInk);
  TextUp(img, "ground truth", {pad, grid_y + (grid_h + axis_z.width) / 2}, axis_scale, kInk);

  auto column_x = [&](int j) { return grid_x + j * cell + (j == n ? gap : 0); };
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= n; ++j) {
      const double share = RowShare(s, i, j);
      int r, g, b;
      Colour(share, &r, &g, &b);
      const cv::Point p0(column_x(j), grid_y + i * cell);
      cv::rectangle(img, p0, p0 + cv::Point(cell - 1, cell - 1), cv::Scalar(b, g, r), cv::FILLED);
      cv::rectangle(img, p0, p0 + cv::Point(cell - 1, cell - 1), i == j ? kInk : cv::Scalar(225, 225, 225), 1);
      const size_t count = s.confusion[i][j];
      if (cell < 14 || count == 0) continue;
      const std::string label = std::to_string(count);
      double scale = std::clamp(cell / 80.0, 0.3, 0.55);
      while (scale > 0.25 && TextSize(label, scale).width > cell - 4) scale -= 0.05;
      const cv::Size z = TextSize(label, scale);
      if (z.width > cell - 2) continue;
      Text(img, label, p0 + cv::Point((cell - z.width) / 2, (cell - z.height) / 2), scale,
           share > 0.5 ? kPaper : kInk);
    }
  }
  if (names) {
    for (int i = 0; i < n; ++i) {
      const cv::Size z = TextSize(s.classes[i], name_scale);
      Text(img, s.classes[i], {grid_x - 6 - z.width, grid_y + i * cell + (cell - z.height) / 2}, name_scale, kInk);
    }
    for (int j = 0; j <= n; ++j) {
      const cv::Size z = TextSize(columns[j], name_scale);
      TextUp(img, columns[j], {column_x(j) + (cell - z.height) / 2, grid_y - 6}, name_scale, j == n ? kGrey : kInk);
    }
  }
  // Colour scale: 100% at the top, 0% at the bottom, ticks every 25%.
  for (int y = 0; y < bar_h; ++y) {
    int r, g, b;
    Colour(1.0 - static_cast<double>(y) / (bar_h - 1), &r, &g, &b);
    cv::line(img, {bar_x, grid_y + y}, {bar_x + bar_w - 1, grid_y + y}, cv::Scalar(b, g, r));
  }
  cv::rectangle(img, {bar_x, grid_y}, {bar_x + bar_w - 1, grid_y + bar_h - 1}, kGrey, 1);
  for (int k = 0; k <= 4; ++k) {
    const int y = grid_y + (bar_h - 1) * (4 - k) / 4;
    cv::line(img, {bar_x + bar_w, y}, {bar_x + bar_w + 3, y}, kGrey);
    const std::string tick = Percent(k / 4.0, 0);
    Text(img, tick, {bar_x + bar_w + 6, y - TextSize(tick, small).height / 2}, small, kInk);
  }
  TextUp(img, "share of the row", {bar_x - 4 - TextSize("share of the row", small).height, grid_y + bar_h}, small,
         kGrey);
  Text(img, footer, {pad, h - pad - foot_z.height}, small, kGrey);

  std::vector<uchar> png;
  if (!cv::imencode(".png", img, png)) throw std::runtime_error("cannot encode " + file.string());
  io::WriteFileAtomic(file, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

std::string ConfusionSvg(const FileScore& s) {
  if (s.classes.empty()) throw std::runtime_error("confusion matrix needs a candidate list");
  const size_t n = s.classes.size();
  const int cell = 14, margin = 220;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << margin + (n + 1) * cell + 10 << "\" height=\""
    << margin + n * cell + 10 << "\" font-family=\"sans-serif\" font-size=\"10\">\n";
  o << "<title>" << XmlEscape(s.name) << ": confusion (rows = ground truth, columns = prediction; last column = "
    << "unmapped)</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (size_t j = 0; j <= n; ++j) {
    double x = margin + j * cell + cell * 0.75;
    o << "<text transform=\"translate(" << x << "," << margin - 4 << ") rotate(-90)\">"
      << XmlEscape(j < n ? s.classes[j] : "(unmapped)") << "</text>\n";
  }
  for (size_t i = 0; i < n; ++i) {
    o << "<text x=\"" << margin - 4 << "\" y=\"" << margin + i * cell + cell * 0.75 << "\" text-anchor=\"end\">"
      << XmlEscape(s.classes[i]) << "</text>\n";
    for (size_t j = 0; j <= n; ++j) {
      int r, g, b;
      double share = RowShare(s, i, j);
      Colour(share, &r, &g, &b);
      o << "<rect x=\"" << margin + j * cell << "\" y=\"" << margin + i * cell << "\" width=\"" << cell
        << "\" height=\"" << cell << "\" fill=\"rgb(" << r << "," << g << "," << b << ")\""
        << (i == j ? " stroke=\"black\"" : "") << "><title>" << XmlEscape(s.classes[i]) << " → "
        << XmlEscape(j < n ? s.classes[j] : "(unmapped)") << ": " << s.confusion[i][j] << "</title></rect>\n";
    }
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace vstar::eval
