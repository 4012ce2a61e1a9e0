// vs-explain: action explanations for a class list, or a description per video (man vs-explain).
#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"
#include "tools/text.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Explain action classes in body-part form, or describe each video's clip"};
  vstar::io::SetupApp(app, "vs-explain");
  vstar::io::StreamOptions stream;
  stream.Register(app);
  vstar::tools::ExplainOptions options;
  options.Register(app);
  VSTAR_PARSE(app, argc, argv);
  return vstar::tools::RunExplain(options, stream);
}
