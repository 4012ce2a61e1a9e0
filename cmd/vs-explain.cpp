// vs-explain: action explanations for a class list, or a description per video (man vs-explain).
#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"
#include "tools/text.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Explain action classes in body-part form, or describe each video's clip"};
  io::SetupApp(app, "vs-explain");
  io::StreamOptions stream;
  stream.Register(app);
  tools::ExplainOptions options;
  options.Register(app);
  return io::Main(app, argc, argv, [&] { return tools::RunExplain(options, stream); });
}
