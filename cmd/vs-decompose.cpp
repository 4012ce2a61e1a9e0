// vs-decompose: teacher chains as SFT records. For each record (frames, label, candidates, upstream
// tool outputs) a teacher writes the two turns knowing the ground truth; verified chains become
// {"id", "messages"} records vs-sft trains on (see vs-decompose(1)).
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"
#include "policy/decompose.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Teacher chains (tool decisions, sub-motion reasoning, answer) as SFT records"};
  io::SetupApp(app, "vs-decompose");
  io::StreamOptions stream;
  stream.Register(app);
  policy::DecomposeOptions opt;
  opt.Register(app);
  return io::Main(app, argc, argv, [&] {
    auto student = opt.profile.Load();
    auto prompts = policy::LoadTeacherPrompts(student, opt.teacher_profile, opt.profile.templates);
    recog::ClassList candidates;
    if (!opt.candidates.empty()) candidates = recog::LoadClassList(opt.candidates);
    auto mode = recog::ParseToolMode(opt.tools);
    // Teacher chains are the slow, paid step: -o FILE always resumes (--resume, io/select.hpp), so
    // a rerun asks the teacher only for the records the file lacks.
    if (stream.output != "-") stream.resume = true;
    auto teacher = policy::LoadTeacher(opt, stream.device);
    tools::ToolRunner tools(opt.runner, stream.device);
    policy::Decomposer decomposer(*teacher, std::move(student), std::move(prompts),
                                  std::move(candidates), mode, tools, opt);
    return io::RunStream(stream, "vs-decompose", opt.batch,
                         [&](std::span<io::Record*> batch) { decomposer.Run(batch); });
  });
}
