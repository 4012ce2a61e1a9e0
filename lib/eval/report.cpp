#include "eval/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

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

void WriteConfusionPng(const FileScore& s, const std::filesystem::path& file) {
  if (s.classes.empty()) throw std::runtime_error("confusion matrix needs a candidate list");
  const int n = static_cast<int>(s.classes.size());
  const int cell = std::clamp(1200 / (n + 1), 4, 28);
  const bool labels = cell >= 9;
  const double font = std::clamp(cell / 30.0, 0.25, 0.5);
  int margin = 0;
  if (labels)
    for (const auto& c : s.classes) {
      int base = 0;
      margin = std::max(margin, cv::getTextSize(c, cv::FONT_HERSHEY_SIMPLEX, font, 1, &base).width);
    }
  margin += 10;
  const int w = margin + (n + 1) * cell + 10, h = margin + n * cell + 10;
  cv::Mat img(h, w, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= n; ++j) {
      int r, g, b;
      Colour(RowShare(s, i, j), &r, &g, &b);
      cv::Point p0(margin + j * cell, margin + i * cell);
      cv::rectangle(img, p0, p0 + cv::Point(cell - 1, cell - 1), cv::Scalar(b, g, r), cv::FILLED);
      if (i == j) cv::rectangle(img, p0, p0 + cv::Point(cell - 1, cell - 1), cv::Scalar(0, 0, 0), 1);
    }
    if (labels) {
      cv::putText(img, s.classes[i], cv::Point(4, margin + i * cell + cell * 3 / 4), cv::FONT_HERSHEY_SIMPLEX, font,
                  cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
  }
  if (labels) {
    // Column names: draw horizontally on a strip, then rotate it into the top margin.
    cv::Mat strip(cell * (n + 1), margin, CV_8UC3, cv::Scalar(255, 255, 255));
    for (int j = 0; j <= n; ++j)
      cv::putText(strip, j < n ? s.classes[j] : std::string("(unmapped)"), cv::Point(4, j * cell + cell * 3 / 4),
                  cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::Mat rot;
    cv::rotate(strip, rot, cv::ROTATE_90_COUNTERCLOCKWISE);
    rot.copyTo(img(cv::Rect(margin, 0, rot.cols, rot.rows)));
  }
  if (!cv::imwrite(file.string(), img)) throw std::runtime_error("cannot write " + file.string());
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
