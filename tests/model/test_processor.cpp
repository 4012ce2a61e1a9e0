// Processor (transformers Qwen2_5_VLProcessor), get_rope_index and the vision window arrays (get_window_index):
// hand-computed cases of §10.4 and exact comparisons with the transformers goldens.
#include <set>

#include "model/processor.hpp"
#include "model/rope_index.hpp"
#include "model_golden.hpp"

using namespace vstar;
using namespace vstar::model;
using vstar::test::Golden;

TEST_CASE("smart_resize table with half-to-even rounding", "[model][processor]") {
  struct Row {
    int64_t h, w, eh, ew;
  };
  const Row rows[] = {{480, 640, 476, 644},    {1080, 1920, 1092, 1932}, {70, 70, 56, 56},
                      {42, 98, 56, 112},       {4000, 3000, 4004, 2996}, {224, 224, 224, 224},
                      {126, 182, 112, 168},    {56, 84, 56, 84},         {70, 90, 56, 84}};
  for (const auto& r : rows) {
    INFO(r.h << "x" << r.w);
    auto [h, w] = SmartResize(r.h, r.w, 28, 3136, 12845056);
    CHECK(h == r.eh);
    CHECK(w == r.ew);
  }
  CHECK(SmartResize(480, 640).first * SmartResize(480, 640).second / (28 * 28) == 391);
  CHECK_THROWS_AS(SmartResize(20, 100), ProcessorError);
  CHECK_THROWS_AS(SmartResize(30, 30 * 201), ProcessorError);
}

TEST_CASE("patchify row and column order follows the HF reshape", "[model][processor]") {
  const int64_t N = 3, H = 56, W = 84;  // odd frame count: the last frame is repeated
  auto frames = torch::empty({N, H, W, 3}, torch::kUInt8);
  auto acc = frames.accessor<uint8_t, 4>();
  auto value = [](int64_t f, int64_t c, int64_t y, int64_t x) { return (f * 31 + c * 7 + y * 3 + x) % 256; };
  for (int64_t f = 0; f < N; ++f)
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        for (int64_t c = 0; c < 3; ++c) acc[f][y][x][c] = static_cast<uint8_t>(value(f, c, y, x));
  ProcessorOptions opt;
  opt.image_mean = {0, 0, 0};
  opt.image_std = {1, 1, 1};
  auto out = Patchify(frames, opt);
  REQUIRE(out.grid_thw.equal(torch::tensor({2L, 4L, 6L}).view({1, 3})));
  REQUIRE(out.pixel_values.sizes() == torch::IntArrayRef({2 * 4 * 6, 1176}));
  auto pv = (out.pixel_values * 255).round().to(torch::kInt64);
  auto p = pv.accessor<int64_t, 2>();
  const int64_t Hm = 2, Wm = 3;
  int64_t bad = 0;
  for (int64_t g = 0; g < 2; ++g)
    for (int64_t by = 0; by < Hm; ++by)
      for (int64_t bx = 0; bx < Wm; ++bx)
        for (int64_t my = 0; my < 2; ++my)
          for (int64_t mx = 0; mx < 2; ++mx) {
            const int64_t r = (((g * Hm + by) * Wm + bx) * 2 + my) * 2 + mx;
            for (int64_t c = 0; c < 3; ++c)
              for (int64_t tt = 0; tt < 2; ++tt)
                for (int64_t py = 0; py < 14; ++py)
                  for (int64_t px = 0; px < 14; ++px) {
                    const int64_t k = c * 392 + tt * 196 + py * 14 + px;
                    const int64_t f = std::min<int64_t>(2 * g + tt, N - 1);
                    if (p[r][k] != value(f, c, (2 * by + my) * 14 + py, (2 * bx + mx) * 14 + px)) ++bad;
                  }
          }
  CHECK(bad == 0);
}

TEST_CASE("processor equals transformers on aligned and non-aligned images", "[model][processor]") {
  const auto& g = Golden::Get();
  for (const std::string name : {"img56x84", "img70x90"}) {
    INFO(name);
    auto out = ProcessImage(test::MediaImage(name));
    CHECK(test::Same(out.grid_thw, g["proc." + name + ".grid_thw"]));
    CHECK(test::MaxDiff(out.pixel_values, g["proc." + name + ".pixel_values"]) <= 1e-6);
  }
  for (const std::string name : {"img140x196", "img224x224", "img308x420"}) {
    INFO(name);
    CHECK(test::Same(ProcessImage(test::MediaImage(name)).grid_thw, g["proc." + name + ".grid_thw"]));
  }
}

TEST_CASE("video frames from files equal the transformers video processor", "[model][processor]") {
  const auto& g = Golden::Get();
  auto v4 = ProcessVideoFiles(test::MediaVideo("vid4", 4), 2.0, test::TinyProcessor());
  CHECK(test::Same(v4.grid_thw, g["proc.vid4.grid_thw"]));
  CHECK(test::MaxDiff(v4.pixel_values, g["proc.vid4.pixel_values"]) <= 1e-6);
  REQUIRE(v4.second_per_grid_ts.size() == 1);
  CHECK(v4.second_per_grid_ts[0] == 1.0);
  auto v6 = ProcessVideoFiles(test::MediaVideo("vid6", 6), 3.0, test::TinyProcessor());
  CHECK(test::Same(v6.grid_thw, g["proc.vid6.grid_thw"]));
  CHECK(v6.second_per_grid_ts[0] == Approx(2.0 / 3.0));
  CHECK_THROWS_AS(ProcessVideoFiles({test::TinyDir() / "media" / "missing.png"}, 2.0), ProcessorError);
}

TEST_CASE("video frame size follows the qwen-vl-utils budget", "[model][processor]") {
  // 480x640 with 16 frames: max(min(602112, 90316800/16*2), 105369) = 602112 -> 476x644.
  auto [h, w] = VideoFrameSize(480, 640, 16);
  CHECK(h == 476);
  CHECK(w == 644);
  // Small frames are scaled up to the 100352-pixel minimum.
  auto [h2, w2] = VideoFrameSize(56, 84, 4);
  CHECK(h2 * w2 >= 100352);
  CHECK(h2 % 28 == 0);
  CHECK(w2 % 28 == 0);
}

// ---- get_rope_index -----------------------------------------------------------------------------

namespace {
RopeIndexParams TinyParams(TemporalIndexMode mode = TemporalIndexMode::kIntSpg) {
  RopeIndexParams p;
  p.vision_start_token_id = 1003;
  p.image_token_id = 1006;
  p.video_token_id = 1007;
  p.temporal_index_mode = mode;
  return p;
}
torch::Tensor Ids(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64).view({1, -1}); }
std::vector<int64_t> Row(const torch::Tensor& pos, int r, int b = 0) {
  auto t = pos[r][b].contiguous();
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}
}  // namespace

TEST_CASE("get_rope_index matches transformers on every golden prompt", "[model][rope]") {
  const auto& g = Golden::Get();
  for (const std::string c : {"text", "image", "two_images", "image_video", "video_fps1", "video_fps3", "batch"}) {
    INFO(c);
    torch::Tensor img, vid;
    std::vector<double> spg;
    if (g.Has(c + ".image_grid_thw")) img = g[c + ".image_grid_thw"];
    if (g.Has(c + ".video_grid_thw")) {
      vid = g[c + ".video_grid_thw"];
      auto s = g[c + ".second_per_grid_ts"].to(torch::kFloat64);
      for (int64_t i = 0; i < s.numel(); ++i) spg.push_back(s[i].item<double>());
    }
    auto r = GetRopeIndex(g[c + ".input_ids"], g[c + ".attention_mask"], img, vid, spg, TinyParams());
    CHECK(test::Same(r.position_ids, g[c + ".position_ids"]));
    CHECK(test::Same(r.rope_deltas, g[c + ".rope_deltas"]));
  }
}

TEST_CASE("get_rope_index hand cases", "[model][rope]") {
  SECTION("text only, with and without left padding") {
    auto r = GetRopeIndex(Ids({5, 6, 7}), {}, {}, {}, {}, TinyParams());
    CHECK(Row(r.position_ids, 2) == std::vector<int64_t>{0, 1, 2});
    CHECK(r.rope_deltas.item<int64_t>() == 0);
    auto mask = torch::tensor({0L, 0L, 1L, 1L}).view({1, 4});
    auto p = GetRopeIndex(Ids({0, 0, 5, 6}), mask, {}, {}, {}, TinyParams());
    CHECK(Row(p.position_ids, 0) == std::vector<int64_t>{1, 1, 0, 1});
    CHECK(p.rope_deltas.item<int64_t>() == -2);
  }
  SECTION("a single image: delta = max(Ht, Wt) - Ht*Wt") {
    std::vector<int64_t> ids = {5, 1003};
    for (int i = 0; i < 6; ++i) ids.push_back(1006);  // grid 1x4x6 -> 2x3 merged
    ids.insert(ids.end(), {1004, 9});
    auto r = GetRopeIndex(Ids(ids), {}, torch::tensor({1L, 4L, 6L}).view({1, 3}), {}, {}, TinyParams());
    CHECK(Row(r.position_ids, 0) == std::vector<int64_t>{0, 1, 2, 2, 2, 2, 2, 2, 5, 6});
    CHECK(Row(r.position_ids, 1) == std::vector<int64_t>{0, 1, 2, 2, 2, 3, 3, 3, 5, 6});
    CHECK(Row(r.position_ids, 2) == std::vector<int64_t>{0, 1, 2, 3, 4, 2, 3, 4, 5, 6});
    CHECK(r.rope_deltas.item<int64_t>() == 3 - 6);
  }
  SECTION("image + text + image consumes grids in order") {
    std::vector<int64_t> ids = {1003, 1006, 1004, 7, 1003, 1006, 1006, 1006, 1006, 1004};
    auto grids = torch::tensor({1L, 2L, 2L, 1L, 4L, 4L}).view({2, 3});
    auto r = GetRopeIndex(Ids(ids), {}, grids, {}, {}, TinyParams());
    CHECK(Row(r.position_ids, 0) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 5, 5, 5, 7});
    CHECK(Row(r.position_ids, 1) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 5, 6, 6, 7});
    CHECK(Row(r.position_ids, 2) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 5, 6, 7});
  }
  SECTION("video temporal index under both modes") {
    struct Case {
      double spg;
      int64_t t;
      std::vector<int64_t> float_tau, int_tau;
    };
    const Case cases[] = {{1.0, 3, {0, 2, 4}, {0, 2, 4}},
                          {0.5, 4, {0, 1, 2, 3}, {0, 0, 0, 0}},
                          {1.005, 3, {0, 2, 4}, {0, 2, 4}},
                          {1.5, 3, {0, 3, 6}, {0, 2, 4}},
                          {2.0 / 3.0, 3, {0, 1, 2}, {0, 0, 0}}};
    for (const auto& c : cases) {
      INFO("spg " << c.spg);
      std::vector<int64_t> ids = {1003};
      for (int64_t i = 0; i < c.t; ++i) ids.push_back(1007);  // grid t x 2 x 2 -> 1 token per step
      ids.push_back(1004);
      auto grid = torch::tensor({c.t, 2L, 2L}).view({1, 3});
      for (auto mode : {TemporalIndexMode::kFloatThenTrunc, TemporalIndexMode::kIntSpg}) {
        auto r = GetRopeIndex(Ids(ids), {}, {}, grid, {c.spg}, TinyParams(mode));
        auto t = Row(r.position_ids, 0);
        const auto& tau = mode == TemporalIndexMode::kIntSpg ? c.int_tau : c.float_tau;
        for (int64_t g = 0; g < c.t; ++g) CHECK(t[1 + g] == 1 + tau[g]);
        CHECK(Row(r.position_ids, 1)[1] == 1);
      }
    }
  }
  SECTION("more vision blocks than grids is an error") {
    CHECK_THROWS(GetRopeIndex(Ids({1003, 1006, 1004}), {}, torch::zeros({0, 3}, torch::kInt64), {}, {}, TinyParams()));
  }
  CHECK(ParseTemporalIndexMode("int_spg") == TemporalIndexMode::kIntSpg);
  CHECK_THROWS(ParseTemporalIndexMode("nearest"));
}

// ---- vision windows -------------------------------------------------------------------------------

TEST_CASE("window index and cu arrays: structure for many grids", "[model][rope]") {
  for (auto [H, W] : std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {4, 4}, {5, 7}, {8, 8}, {17, 23}}) {
    for (int64_t t : {1, 3}) {
      INFO(H << "x" << W << " t=" << t);
      auto grid = torch::tensor({t, 2 * H, 2 * W}).view({1, 3});
      auto w = ComputeVisionWindows(grid, 2, 4);
      const int64_t n = t * H * W;
      auto sorted = std::get<0>(w.window_index.sort());
      CHECK(sorted.equal(torch::arange(n, torch::kInt64)));
      auto cu = w.cu_window_seqlens;
      CHECK(cu[0].item<int64_t>() == 0);
      CHECK(cu[-1].item<int64_t>() == 4 * n);
      CHECK((cu.slice(0, 1) - cu.slice(0, 0, -1)).min().item<int64_t>() > 0);
      const int64_t windows = t * ((H + 3) / 4) * ((W + 3) / 4);
      CHECK(cu.numel() - 1 == windows);
      CHECK(w.cu_seqlens.numel() == t + 1);
    }
  }
  // Multi-item offsets: the second item's indices follow the first item's merge units.
  auto a = ComputeVisionWindows(torch::tensor({1L, 4L, 6L}).view({1, 3}), 2, 4);
  auto b = ComputeVisionWindows(torch::tensor({1L, 10L, 14L}).view({1, 3}), 2, 4);
  auto ab = ComputeVisionWindows(torch::tensor({1L, 4L, 6L, 1L, 10L, 14L}).view({2, 3}), 2, 4);
  CHECK(ab.window_index.equal(torch::cat({a.window_index, b.window_index + 6})));
  CHECK(ab.cu_seqlens.equal(torch::tensor({0L, 24L, 164L})));
}

TEST_CASE("window index and cu arrays equal transformers", "[model][rope]") {
  const auto& g = Golden::Get();
  struct Item {
    std::string name;
    torch::Tensor grid;
  };
  std::vector<Item> items = {{"img140x196", g["proc.img140x196.grid_thw"]},
                             {"img224x224", g["proc.img224x224.grid_thw"]},
                             {"img308x420", g["proc.img308x420.grid_thw"]},
                             {"two", torch::cat({g["proc.img56x84.grid_thw"], g["proc.img140x196.grid_thw"]})},
                             {"vid6", g["proc.vid6.grid_thw"]}};
  for (const auto& it : items) {
    INFO(it.name);
    auto w = ComputeVisionWindows(it.grid, 2, 4);
    CHECK(test::Same(w.window_index, g["vis." + it.name + ".window_index"]));
    CHECK(test::Same(w.cu_window_seqlens, g["vis." + it.name + ".cu_window_seqlens"]));
    CHECK(test::Same(w.cu_seqlens, g["vis." + it.name + ".cu_seqlens"]));
  }
}
