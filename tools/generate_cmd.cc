// faultline history generate
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "checker/txn_generate.h"
#include "history/edn.h"
#include "history/io.h"
#include "history/jsonl.h"
#include "tools/commands.h"
#include "tools/generate.h"

namespace faultline::tools {
namespace {

struct GenerateArgs {
  GenerateOptions options;
  // Transactional models (list-append, rw-register) go to checker::GenerateTxnHistory.
  std::string anomaly;
  double fail_rate = 0;
  size_t min_ops = 1;
  size_t max_ops = 4;
  size_t rotate_every = 0;
  std::string out = "-";
  std::string to;  // empty: from --out's extension (.edn, .json), else jsonl
};

std::string Join(const std::vector<std::string>& items) {
  std::string s;
  for (const std::string& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

// The output format: --to, else --out's extension; JSON Lines for standard output and for
// any other name. A log is signed and chained: history convert makes one from JSON Lines.
Result<history::Format> GenerateFormat(const GenerateArgs& a) {
  history::Format f = history::Format::kJsonl;
  if (!a.to.empty()) {
    FAULTLINE_ASSIGN_OR_RETURN(f, history::ParseFormat(a.to));
  } else if (a.out != "-") {
    f = history::FormatFromExtension(a.out).value_or(history::Format::kJsonl);
  }
  if (f == history::Format::kJsonl || f == history::Format::kJson || f == history::Format::kEdn) {
    return f;
  }
  const std::string asked =
      a.to.empty() ? fmt::format("--out {}", a.out) : fmt::format("--to {}", a.to);
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("generate: {}: generate writes jsonl, json or edn (a log: generate "
                               "JSON Lines, then 'faultline history convert H.jsonl H.log')",
                               asked));
}

int RunGenerate(const GenerateArgs& a) {
  const auto format = GenerateFormat(a);
  if (!format) {
    PrintError(format.error().message());
    return kExitError;
  }
  const auto txn_model = checker::ParseTxnModel(a.options.model);
  Result<history::History> h = MakeError(ErrorCode::kInternal, "not generated");
  if (txn_model) {
    checker::TxnGenerateOptions t;
    t.model = *txn_model;
    t.txns = a.options.ops;
    t.processes = a.options.processes;
    t.keys = a.options.keys;
    t.rotate_every = a.rotate_every;
    t.min_ops = a.min_ops;
    t.max_ops = a.max_ops;
    t.info_rate = a.options.info_rate;
    t.fail_rate = a.fail_rate;
    t.seed = a.options.seed;
    t.anomaly = a.anomaly;
    h = checker::GenerateTxnHistory(t);
  } else if (!a.anomaly.empty()) {
    PrintError("generate: --anomaly is for --model list-append or rw-register (see --violate)");
    return kExitError;
  } else {
    h = Generate(a.options);
  }
  if (!h) {
    PrintError(h.error().WithContext("generate").message());
    return kExitError;
  }
  const std::string text = *format == history::Format::kEdn    ? history::WriteEdnHistory(*h)
                           : *format == history::Format::kJson ? history::WriteJsonArrayHistory(*h)
                                                               : history::WriteJsonlHistory(*h);
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
    std::string what;
    if (txn_model) {
      what = a.anomaly.empty() ? ", strict serializable by construction"
                               : ", anomaly planted: " + a.anomaly;
    } else {
      what = a.options.violate.empty() ? ", linearizable by construction"
                                       : ", violation planted: " + a.options.violate;
    }
    PrintNote(fmt::format("{}: {} events, {} invocations, seed {}{}", a.out, h->size(),
                          h->invocation_count(), a.options.seed, what));
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
      "           --info-rate 0.01 --seed 7 --violate stale-read --out h.jsonl\n"
      "--violate contradictory-readers plants, among processes - 4 concurrent writers (some\n"
      "info), two readers that see two writes in opposite orders: no local detector sees it.\n"
      "Transactions (list-append, rw-register): strict serializable by construction (each\n"
      "transaction takes effect atomically at its completion; a final read observes every key),\n"
      "unless --anomaly plants one on fresh keys:\n"
      "  faultline history generate --model list-append --ops 1000 --anomaly G1c --out t.jsonl");
  std::vector<std::string> models = GeneratorModels();
  models.push_back("list-append");
  models.push_back("rw-register");
  g->add_option("--model", o.model, "Model: " + Join(models))->capture_default_str();
  g->add_option("--ops", o.ops, "Client invocations (transactions for list-append, rw-register)")
      ->capture_default_str();
  g->add_option("--processes", o.processes, "Concurrent processes")->capture_default_str();
  g->add_option("--info-rate", o.info_rate, "Share of ops that end indeterminate (info), 0..1")
      ->capture_default_str();
  g->add_option("--keys", o.keys, "Independent keys")->capture_default_str();
  g->add_option("--values", o.values, "Size of the value domain (0..V-1)")->capture_default_str();
  g->add_option("--seed", o.seed, "Random seed (logged; replays the same history)")
      ->capture_default_str();
  g->add_option("--violate", o.violate, "Plant a violation: " + Join(ViolationShapes()));
  g->add_option(
      "--anomaly", args->anomaly,
      "Plant a transactional anomaly: list-append: " +
          Join(checker::PlantedAnomalies(checker::TxnModel::kListAppend)) +
          "; rw-register: " + Join(checker::PlantedAnomalies(checker::TxnModel::kRwRegister)));
  g->add_option("--fail-rate", args->fail_rate, "Share of transactions that fail, 0..1")
      ->capture_default_str();
  g->add_option("--min-ops", args->min_ops, "Fewest micro-ops per transaction")
      ->capture_default_str();
  g->add_option("--max-ops", args->max_ops, "Most micro-ops per transaction")
      ->capture_default_str();
  g->add_option("--rotate-every", args->rotate_every,
                "A fresh key replaces the oldest every N transactions (0 = never)")
      ->capture_default_str();
  g->add_option("--out", args->out, "Output file ('-' = standard output)")->capture_default_str();
  g->add_option("--to", args->to,
                "Output format: jsonl, json (an array of ops, as elle-cli reads) or edn (default: "
                "from --out's extension, else jsonl)");
  g->callback([&run, args] { run = [args] { return RunGenerate(*args); }; });
}

}  // namespace faultline::tools
