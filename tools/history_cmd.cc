// faultline history convert | stats | generate
#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/file.h"
#include "history/edn.h"
#include "history/io.h"
#include "history/jsonl.h"
#include "history/stats.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

struct ConvertArgs {
  std::string in;
  std::string out;
  std::string from = "auto";
  std::string to;
  std::string sign_key;
};

struct StatsArgs {
  std::string file;
  std::string format = "auto";
  bool json = false;
};

// Writes `text` to `path` ("-" = stdout) through a temporary file, so a failed write leaves no
// half-written output behind.
Status WriteOutput(const std::string& path, const std::string& text) {
  if (path == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
      return MakeError(ErrorCode::kUnavailable, "write <stdout>: short write");
    }
    return OkStatus();
  }
  return WriteFileAtomic(path, text);
}

// The output format: --to, else from OUT's extension.
Result<history::Format> OutputFormat(const ConvertArgs& a) {
  if (!a.to.empty()) return history::ParseFormat(a.to);
  if (auto f = history::FormatFromExtension(a.out)) return *f;
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("convert: cannot tell the output format from '{}' (use --to "
                               "jsonl|json|edn|log)",
                               a.out));
}

int RunConvert(const ConvertArgs& a) {
  auto from = history::ParseFormat(a.from);
  if (!from) {
    PrintError(from.error().message());
    return kExitError;
  }
  auto to = OutputFormat(a);
  if (!to) {
    PrintError(to.error().message());
    return kExitError;
  }
  history::ReadReport report;
  auto h = history::ReadHistoryFile(a.in, {.format = *from}, &report);
  if (!h) {
    PrintError(h.error().message());
    return kExitError;
  }
  if (!report.note.empty()) PrintNote(fmt::format("{}: {}", a.in, report.note));
  // Run metadata ({"faultline":{...}}: seed, workload, config, claims) goes along into the
  // formats that carry it: JSON Lines and the log. elle-cli's array and EDN hold ops only.
  std::vector<std::string> metadata;
  for (const std::string& v : report.metadata) metadata.push_back("{\"faultline\":" + v + "}");
  std::string text;
  switch (*to) {
    case history::Format::kJsonl:
      for (const std::string& m : metadata) text += m + "\n";
      text += history::WriteJsonlHistory(*h);
      break;
    case history::Format::kJson:
      text = history::WriteJsonArrayHistory(*h);
      break;
    case history::Format::kEdn:
      text = history::WriteEdnHistory(*h);
      break;
    case history::Format::kLog:
      return ConvertToLog(*h, metadata, a.out, a.sign_key);
    default:
      PrintError(fmt::format("convert: cannot write format {}", history::FormatName(*to)));
      return kExitError;
  }
  if (auto st = WriteOutput(a.out, text); !st) {
    PrintError(st.error().message());
    return kExitError;
  }
  PrintNote(fmt::format("{}: {} ops read as {}, written to {} as {}", a.in, h->size(),
                        history::FormatName(report.format), a.out, history::FormatName(*to)));
  return kExitOk;
}

int RunStats(const StatsArgs& a) {
  auto format = history::ParseFormat(a.format);
  if (!format) {
    PrintError(format.error().message());
    return kExitError;
  }
  // Counted as the ops stream past, from a mapped file whose pages are given back as they are
  // parsed: a history of a million transactions is counted in little more than its open ops.
  auto text = HistoryText::Open(a.file);
  if (!text) {
    PrintError(text.error().message());
    return kExitError;
  }
  history::ReadReport report;
  history::StatsBuilder builder(a.file);
  const Status read = history::ForEachOp(
      text->text(), a.file, {.format = *format},
      [&](history::Op&& op, int64_t line, const char* at) {
        text->Release(at);
        return builder.Add(std::move(op), line);
      },
      &report);
  if (!read) {
    PrintError(read.error().message());
    return kExitError;
  }
  history::JoinNote(report.note, builder.TimeRegressionNote());
  if (!report.note.empty()) PrintNote(fmt::format("{}: {}", a.file, report.note));
  history::HistoryStats stats = builder.Finish();
  std::string out = a.json ? history::StatsToJson(stats) : history::FormatStats(stats);
  if (!out.empty() && out.back() != '\n') out += '\n';
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace

void RegisterHistoryCommands(CLI::App& app, Action& run) {
  CLI::App* hist = app.add_subcommand("history", "Read, convert, summarise and generate histories");
  hist->require_subcommand(1);

  auto convert = std::make_shared<ConvertArgs>();
  CLI::App* c = hist->add_subcommand(
      "convert",
      "Convert a history between formats.\n"
      "Reads Jepsen EDN, Porcupine etcd logs and kv files, faultline JSON Lines, a JSON array\n"
      "of ops (elle-cli's form) and the tamper-evident log (detected from content); writes\n"
      "JSON Lines (.jsonl), a JSON array (.json, which elle-cli reads), EDN or a new log.\n"
      "Examples:\n"
      "  faultline history convert history.edn history.jsonl\n"
      "  faultline history convert txns.edn txns.json    # for elle-cli");
  c->add_option("IN", convert->in, "Input history file ('-' for standard input)")->required();
  c->add_option("OUT", convert->out, "Output file ('-' for standard output)")->required();
  c->add_option(
       "--from", convert->from,
       "Input format: auto, jsonl, json (an array of ops, as elle-cli reads), edn, etcd-log, log")
      ->capture_default_str();
  c->add_option("--to", convert->to,
                "Output format: jsonl, json, edn or log (default: from OUT's extension)");
  c->add_option("--sign-key", convert->sign_key,
                "With --to log: private key (from 'faultline audit keygen') to sign the log");
  c->callback([&run, convert] { run = [convert] { return RunConvert(*convert); }; });

  auto stats = std::make_shared<StatsArgs>();
  CLI::App* s =
      hist->add_subcommand("stats",
                           "Summarise a history: ops by type, f and process; open ops; time span.\n"
                           "Example: faultline history stats history.edn --json");
  s->add_option("FILE", stats->file, "History file ('-' for standard input)")->required();
  s->add_option(
       "--format", stats->format,
       "Input format: auto, jsonl, json (an array of ops, as elle-cli reads), edn, etcd-log, log")
      ->capture_default_str();
  s->add_flag("--json", stats->json, "Print JSON instead of text");
  s->callback([&run, stats] { run = [stats] { return RunStats(*stats); }; });

  RegisterGenerateCommand(*hist, run);
}

}  // namespace faultline::tools
