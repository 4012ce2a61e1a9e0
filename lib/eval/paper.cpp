#include "eval/paper.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

#include "eval/plot.hpp"
#include "io/text.hpp"

namespace vstar::eval {
namespace fs = std::filesystem;

std::vector<Published> LoadPublished(const fs::path& tsv) {
  std::vector<Published> out;
  std::istringstream in(io::ReadFile(tsv, "published numbers"));
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (io::Trim(line).empty() || io::Trim(line)[0] == '#') continue;
    std::vector<std::string> col;
    std::istringstream cells(line);
    for (std::string c; std::getline(cells, c, '\t');) col.push_back(std::string(io::Trim(c)));
    const std::string where = tsv.string() + ":" + std::to_string(n);
    if (col.size() != 6)
      throw std::runtime_error(
          where +
          ": want 6 tab-separated columns (table, dataset, method, metric, value, "
          "source), not " +
          std::to_string(col.size()));
    Published p{col[0], col[1], col[2], col[3], 0, col[5]};
    if (p.table != "b2n" && p.table != "zs" && p.table != "tools")
      throw std::runtime_error(where + ": table '" + p.table + "' is not b2n, zs or tools");
    try {
      size_t used = 0;
      p.value = std::stod(col[4], &used);
      if (used != col[4].size()) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      throw std::runtime_error(where + ": value '" + col[4] + "' is not a number");
    }
    out.push_back(std::move(p));
  }
  return out;
}

namespace {

std::vector<std::string> NameParts(const std::string& name) {
  std::vector<std::string> parts;
  std::istringstream in(name);
  for (std::string p; std::getline(in, p, '/');) parts.push_back(p);
  return parts;
}

void AddOnce(std::vector<std::string>& v, const std::string& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

// Our profiles first in the paper's order, then any other in order of appearance.
void OrderProfiles(std::vector<std::string>& v) {
  auto rank = [](const std::string& p) { return p == "clean" ? 0 : p == "official" ? 1 : 2; };
  std::stable_sort(v.begin(), v.end(),
                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
}

Json Metric(const Json& summary, const char* key) {
  return summary.is_object() && summary.contains(key) ? summary[key] : Json();
}

size_t Records(const Json& run, const std::string& group) {
  size_t n = 0;
  for (const auto& f : run["files"])
    if (group.empty() || f["group"] == group) n += f["total"].get<size_t>();
  return n;
}

Json Seconds(const Json& run) {
  double s = 0;
  size_t timed = 0;
  for (const auto& f : run["files"]) {
    if (!f.contains("seconds_per_video")) continue;
    const size_t t = f["timed"].get<size_t>();
    s += f["seconds_per_video"].get<double>() * static_cast<double>(t);
    timed += t;
  }
  return timed ? Json(s / static_cast<double>(timed)) : Json();
}

void Require(const Json& run, const char* group) {
  for (const auto& f : run["files"])
    if (f["group"] == group) return;
  throw std::runtime_error("run '" + run["name"].get<std::string>() + "' has no " + group +
                           " file");
}

Json HalvesOf(const Json& run) {
  Require(run, "base");
  Require(run, "novel");
  const Json& strict = run["summary"]["strict"];
  const Json& authors = run["summary"]["authors"];
  Json o;
  for (const char* k : {"base", "novel", "hm"}) o[k] = Metric(strict, k);
  for (const char* k : {"base", "novel", "hm"}) o["authors"][k] = Metric(authors, k);
  o["records"] = {{"base", Records(run, "base")}, {"novel", Records(run, "novel")}};
  return o;
}

// `scale` * v with `decimals` decimals (published percentages: one, as their sources print them).
std::string Fixed(const Json& v, double scale, int decimals) {
  if (!v.is_number()) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, scale * v.get<double>());
  return buf;
}
std::string Pct(const Json& v) {
  return Fixed(v, 100, 2);
}  // ours: fractions as % with two decimals

std::string Cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

double Num(const Json& v) {
  return v.is_number() ? v.get<double>() : std::nan("");
}

}  // namespace

Json PaperReport(const PaperInput& in) {
  Json out;
  std::map<std::string, Json> b2n,
      zs;  // dataset -> {"published": {method: {metric: v}}, "ours": {...}}
  std::vector<std::string> b2n_order, zs_order, profiles, methods;
  Json pub_json = Json::array();
  Json tools_published = Json::object();
  for (const auto& p : in.published) {
    const double v = p.metric == "seconds" ? p.value : p.value / 100.0;
    pub_json.push_back({{"table", p.table},
                        {"dataset", p.dataset},
                        {"method", p.method},
                        {"metric", p.metric},
                        {"value", v},
                        {"source", p.source}});
    AddOnce(methods, p.method);
    if (p.table == "b2n") {
      AddOnce(b2n_order, p.dataset);
      b2n[p.dataset]["published"][p.method][p.metric] = v;
    } else if (p.table == "zs") {
      AddOnce(zs_order, p.dataset);
      zs[p.dataset]["published"][p.method][p.metric] = v;
    } else {
      tools_published[p.method][p.dataset] =
          v;  // tools rows: the dataset column holds the --tools mode
    }
  }
  Json tools = Json::array();
  for (const auto& run : in.report["runs"]) {
    const std::string name = run.value("name", std::string());
    const auto parts = NameParts(name);
    if (parts.size() == 3 && parts[0] == "b2n") {
      AddOnce(b2n_order, parts[1]);
      AddOnce(profiles, parts[2]);
      b2n[parts[1]]["ours"][parts[2]] = HalvesOf(run);
    } else if (parts.size() == 3 && parts[0] == "zs") {
      Require(run, "split");
      AddOnce(zs_order, parts[1]);
      AddOnce(profiles, parts[2]);
      const Json& strict = run["summary"]["strict"];
      const Json& authors = run["summary"]["authors"];
      Json o;
      o["mean"] = Metric(strict, "split_mean");
      o["std"] = Metric(strict, "split_std");
      o["splits"] =
          Metric(strict, "splits").is_null() ? Metric(authors, "splits") : Metric(strict, "splits");
      o["authors"] = {{"mean", Metric(authors, "split_mean")},
                      {"std", Metric(authors, "split_std")}};
      o["records"] = Records(run, "split");
      zs[parts[1]]["ours"][parts[2]] = o;
    } else if (parts.size() == 4 && parts[0] == "tools") {
      AddOnce(profiles, parts[2]);
      Json o = HalvesOf(run);
      o["dataset"] = parts[1];
      o["profile"] = parts[2];
      o["mode"] = parts[3];
      o["seconds_per_video"] = Seconds(run);
      tools.push_back(o);
    }
  }
  OrderProfiles(profiles);
  auto rows = [&](const std::vector<std::string>& order, std::map<std::string, Json>& table) {
    Json a = Json::array();
    for (const auto& d : order) {
      Json row = table[d];
      row["dataset"] = d;
      if (!row.contains("published")) row["published"] = Json::object();
      if (!row.contains("ours")) row["ours"] = Json::object();
      row["evaluated"] = !row["ours"].empty();
      a.push_back(row);
    }
    return a;
  };
  out["profiles"] = profiles;
  out["methods"] = methods;
  out["table1"] = rows(b2n_order, b2n);
  out["table2"] = rows(zs_order, zs);
  out["tools"] = tools;
  out["tools_published"] = tools_published;
  Json audits = Json::array();
  for (const auto& [name, rep] : in.audits) audits.push_back({{"name", name}, {"report", rep}});
  out["audits"] = audits;
  out["notes"] = in.notes;
  out["published"] = pub_json;
  out["runs"] = in.report["runs"];
  return out;
}

std::string PaperMarkdown(const Json& paper) {
  std::ostringstream md;
  const auto profiles = paper["profiles"].get<std::vector<std::string>>();
  const auto methods = paper["methods"].get<std::vector<std::string>>();
  md << "# The paper's tables\n\n"
        "Accuracy in %. Ours: the strict metric (the answer mapped onto the candidate list by "
        "normalised exact "
        "match, anything else wrong; the authors' matching rule is in the JSON under \"authors\"), "
        "one column "
        "per profile. Published: as the sources below print them.\n\n";

  auto header = [&](const std::string& first) {
    md << "| " << first;
    for (const auto& m : methods) md << " | " << Cell(m) << " (published)";
    for (const auto& p : profiles) md << " | " << Cell(p);
    md << " |\n|---";
    for (size_t i = 0; i < methods.size() + profiles.size(); ++i) md << "|---";
    md << "|\n";
  };
  // A table's rows: the published cells of each method, then ours per profile ("not run" without).
  auto table = [&](const Json& rows, const auto& published, const auto& ours) {
    header("dataset");
    for (const auto& row : rows) {
      md << "| " << Cell(row["dataset"]);
      for (const auto& m : methods)
        md << " | " << published(row["published"].value(m, Json::object()));
      for (const auto& pr : profiles)
        md << " | " << (row["ours"].contains(pr) ? ours(row["ours"][pr]) : "not run");
      md << " |\n";
    }
  };
  md << "## Table 1: base-to-novel (base / novel / HM)\n\n";
  table(
      paper["table1"],
      [](const Json& p) {
        return Fixed(p.value("base", Json()), 100, 1) + " / " +
               Fixed(p.value("novel", Json()), 100, 1) + " / " +
               Fixed(p.value("hm", Json()), 100, 1);
      },
      [](const Json& o) {
        return Pct(o["base"]) + " / " + Pct(o["novel"]) + " / " + Pct(o["hm"]);
      });
  md << "\n## Table 2: cross-dataset zero-shot (mean ± std over the splits)\n\n";
  table(
      paper["table2"],
      [](const Json& p) {
        return Fixed(p.value("mean", Json()), 100, 1) +
               (p.contains("std") ? " ± " + Fixed(p["std"], 100, 1) : "");
      },
      [](const Json& o) {
        const size_t n = o["splits"].is_number() ? o["splits"].get<size_t>() : 0;
        return Pct(o["mean"]) + " ± " + Pct(o["std"]) + " (" + std::to_string(n) +
               (n == 1 ? " split, " : " splits, ") + o["records"].dump() + " clips)";
      });
  md << "\n## Tool modes: accuracy and inference time\n\n"
        "`--tools none` (no tool runs), `all` (every tool runs), `dynamic` (turn 1 decides). "
        "Seconds per video: "
        "each record's share of its batch's two generation turns plus its own tool time.\n\n"
        "| dataset | profile | mode | s / video | base | novel | HM | clips "
        "|\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& t : paper["tools"])
    md << "| " << Cell(t["dataset"]) << " | " << Cell(t["profile"]) << " | " << Cell(t["mode"])
       << " | " << Fixed(t["seconds_per_video"], 1, 2) << " | " << Pct(t["base"]) << " | "
       << Pct(t["novel"]) << " | " << Pct(t["hm"]) << " | "
       << t["records"]["base"].get<size_t>() + t["records"]["novel"].get<size_t>() << " |\n";
  for (const auto& [method, modes] : paper["tools_published"].items())
    for (const auto& [mode, s] : modes.items())
      md << "| – | " << Cell(method) << " (published) | " << Cell(mode) << " | " << Fixed(s, 1, 2)
         << " | – | – | – | – |\n";

  // One row per audit and check, its counts summed over the files (vs-audit's own markdown, beside
  // the JSON of each audit, has them file by file).
  md << "\n## Leak audit of the data used\n\n";
  if (paper["audits"].empty())
    md << "No audit was given.\n";
  else
    md << "| audit | check | files | found | problem |\n|---|---|---|---|---|\n";
  for (const auto& a : paper["audits"]) {
    const Json& findings = a["report"].value("findings", Json::array());
    if (findings.empty()) md << "| " << Cell(a["name"]) << " | – | – | nothing found | no |\n";
    std::vector<std::string> checks;
    for (const auto& f : findings) AddOnce(checks, f.value("check", std::string()));
    for (const auto& c : checks) {
      size_t files = 0, count = 0, total = 0;
      bool problem = false;
      for (const auto& f : findings) {
        if (f.value("check", std::string()) != c) continue;
        ++files;
        count += f.value("count", size_t{0});
        total += f.value("total", size_t{0});
        problem = problem || f.value("problem", false);
      }
      md << "| " << Cell(a["name"]) << " | " << Cell(c) << " | " << files << " | " << count << " / "
         << total << " | " << (problem ? "**yes**" : "no") << " |\n";
    }
  }
  if (!paper["notes"].empty()) {
    md << "\n## Notes\n\n";
    for (const auto& n : paper["notes"]) md << "- " << n.get<std::string>() << "\n";
  }
  std::vector<std::string> sources;
  for (const auto& p : paper["published"])
    AddOnce(sources, p["method"].get<std::string>() + ": " + p["source"].get<std::string>());
  if (!sources.empty()) {
    md << "\n## Sources of the published numbers\n\n";
    for (const auto& s : sources) md << "- " << s << "\n";
  }
  return md.str();
}

void WritePaperPicture(const fs::path& png, const Json& paper) {
  const auto profiles = paper["profiles"].get<std::vector<std::string>>();
  const auto methods = paper["methods"].get<std::vector<std::string>>();
  BarChart t1{"Table 1: base-to-novel, strict accuracy (published numbers beside ours)",
              {},
              {"base", "novel", "HM"},
              {}};
  for (const auto& row : paper["table1"]) {
    const std::string d = row["dataset"];
    for (const auto& m : methods) {
      if (!row["published"].contains(m)) continue;
      const Json& p = row["published"][m];
      t1.groups.push_back(d + " " + m);
      t1.values.push_back({Num(p.value("base", Json())), Num(p.value("novel", Json())),
                           Num(p.value("hm", Json()))});
    }
    for (const auto& pr : profiles) {
      if (!row["ours"].contains(pr)) continue;
      const Json& o = row["ours"][pr];
      t1.groups.push_back(d + " " + pr);
      t1.values.push_back({Num(o["base"]), Num(o["novel"]), Num(o["hm"])});
    }
  }
  BarChart t2{"Table 2: split mean", {}, {}, {}};
  for (const auto& m : methods) t2.series.push_back(m);
  for (const auto& p : profiles) t2.series.push_back(p);
  for (const auto& row : paper["table2"]) {
    t2.groups.push_back(row["dataset"]);
    std::vector<double> v;
    for (const auto& m : methods)
      v.push_back(Num(row["published"].value(m, Json::object()).value("mean", Json())));
    for (const auto& p : profiles)
      v.push_back(row["ours"].contains(p) ? Num(row["ours"][p]["mean"]) : std::nan(""));
    t2.values.push_back(v);
  }
  BarChart tt{"s / video", {}, {"none", "all", "dynamic"}, {}, 0, false};
  std::map<std::string, size_t> group_of;
  auto group = [&](const std::string& g) {
    if (!group_of.count(g)) {
      group_of[g] = tt.groups.size();
      tt.groups.push_back(g);
      tt.values.push_back(std::vector<double>(tt.series.size(), std::nan("")));
    }
    return group_of[g];
  };
  auto put = [&](size_t g, const std::string& mode, double v) {
    auto at = std::find(tt.series.begin(), tt.series.end(), mode);
    if (at == tt.series.end() || !std::isfinite(v)) return;
    tt.values[g][static_cast<size_t>(at - tt.series.begin())] = v;
    tt.y_max = std::max(tt.y_max, v * 1.15);
  };
  for (const auto& [method, modes] : paper["tools_published"].items())
    for (const auto& [mode, s] : modes.items()) put(group(method + " (published)"), mode, Num(s));
  for (const auto& t : paper["tools"])
    put(group(t["dataset"].get<std::string>() + " " + t["profile"].get<std::string>()), t["mode"],
        Num(t["seconds_per_video"]));
  // WriteSummary stacks its bar chart over images: the other two charts go through temporary files.
  const fs::path dir = png.parent_path().empty() ? fs::path(".") : png.parent_path();
  const fs::path a = dir / (png.filename().string() + ".table2.tmp.png");
  const fs::path b = dir / (png.filename().string() + ".tools.tmp.png");
  WriteBarChart(a, t2, 700, 360);
  WriteBarChart(b, tt, 500, 360);
  try {
    WriteSummary(png, t1, {}, {a, b}, 1200);
  } catch (...) {
    fs::remove(a);
    fs::remove(b);
    throw;
  }
  fs::remove(a);
  fs::remove(b);
}

}  // namespace vstar::eval
