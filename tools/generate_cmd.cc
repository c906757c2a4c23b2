// faultline history generate
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "history/edn.h"
#include "history/jsonl.h"
#include "tools/commands.h"
#include "tools/generate.h"

namespace faultline::tools {
namespace {

struct GenerateArgs {
  GenerateOptions options;
  std::string out = "-";
  std::string to = "jsonl";
};

std::string Join(const std::vector<std::string>& items) {
  std::string s;
  for (const std::string& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

int RunGenerate(const GenerateArgs& a) {
  if (a.to != "jsonl" && a.to != "edn") {
    PrintError(fmt::format("generate: --to must be jsonl or edn, got '{}'", a.to));
    return kExitError;
  }
  auto h = Generate(a.options);
  if (!h) {
    PrintError(h.error().WithContext("generate").message());
    return kExitError;
  }
  std::string text = a.to == "edn" ? history::WriteEdnHistory(*h) : history::WriteJsonlHistory(*h);
  std::FILE* f = a.out == "-" ? stdout : std::fopen(a.out.c_str(), "wb");
  if (!f) {
    PrintError(fmt::format("generate: cannot open {} for writing", a.out));
    return kExitError;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (f != stdout) ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    PrintError(fmt::format("generate: write {}: failed", a.out));
    return kExitError;
  }
  if (a.out != "-") {
    PrintNote(fmt::format("{}: {} events, {} invocations, seed {}{}", a.out, h->size(),
                          h->invocation_count(), a.options.seed,
                          a.options.violate.empty() ? ", linearizable by construction"
                                                    : ", violation planted: " + a.options.violate));
  }
  return kExitOk;
}

}  // namespace

void RegisterGenerateCommand(CLI::App& history, Action& run) {
  auto args = std::make_shared<GenerateArgs>();
  GenerateOptions& o = args->options;
  CLI::App* g = history.add_subcommand(
      "generate",
      "Generate a synthetic history with a known verdict.\n"
      "Linearizable by construction (each op takes effect at a point inside its interval),\n"
      "unless --violate plants a violation. The same seed gives the same history.\n"
      "Example: faultline history generate --model cas-register --ops 10000 --processes 10 \\\n"
      "           --info-rate 0.01 --seed 7 --violate stale-read --out h.jsonl");
  g->add_option("--model", o.model, "Model: " + Join(GeneratorModels()))->capture_default_str();
  g->add_option("--ops", o.ops, "Client invocations")->capture_default_str();
  g->add_option("--processes", o.processes, "Concurrent processes")->capture_default_str();
  g->add_option("--info-rate", o.info_rate, "Share of ops that end indeterminate (info), 0..1")
      ->capture_default_str();
  g->add_option("--keys", o.keys, "Independent keys")->capture_default_str();
  g->add_option("--values", o.values, "Size of the value domain (0..V-1)")->capture_default_str();
  g->add_option("--seed", o.seed, "Random seed (logged; replays the same history)")
      ->capture_default_str();
  g->add_option("--violate", o.violate, "Plant a violation: " + Join(ViolationShapes()));
  g->add_option("--out", args->out, "Output file ('-' = standard output)")->capture_default_str();
  g->add_option("--to", args->to, "Output format: jsonl or edn")->capture_default_str();
  g->callback([&run, args] { run = [args] { return RunGenerate(*args); }; });
}

}  // namespace faultline::tools
