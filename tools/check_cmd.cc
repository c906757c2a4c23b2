// faultline check FILE... --model NAME
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checker/checker.h"
#include "checker/junit_case.h"
#include "checker/report.h"
#include "checker/txn_checker.h"
#include "common/file.h"
#include "common/junit.h"
#include "history/edn.h"
#include "history/io.h"
#include "history/txn.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

size_t DefaultMemoryLimitMb() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<size_t>(pages) / 2 * static_cast<size_t>(page_size) / (1024 * 1024);
}

struct CheckArgs {
  std::vector<std::string> files;
  std::string model = "cas-register";
  std::string format = "auto";
  std::string initial;
  double time_limit_s = 0;
  // Half of physical memory unless set: there is no swap on the target machines, and Linux kills a
  // process that exhausts memory rather than failing its allocation, so an unlimited search could
  // end in a kill instead of an `unknown`.
  size_t memory_limit_mb = DefaultMemoryLimitMb();
  std::string key;
  bool json = false;
  std::string html;
  int threads = 0;
  // Transactional models (list-append, rw-register) only.
  std::string consistency = "strict-serializable";
  std::string junit;  // --junit FILE
  // Whether --model / --consistency were given: when not, a history whose run metadata names
  // "claims" (a campaign's transactional workload) is checked as its run claims.
  bool model_given = false;
  bool consistency_given = false;
};

// What a history's run metadata claims, for the options the user left unset; "" = no claim.
struct Claim {
  std::string model;
  std::string consistency;
};

Claim ClaimFromMetadata(const std::vector<std::string>& metadata) {
  Claim claim;
  for (const std::string& text : metadata) {
    const nlohmann::json meta = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!meta.is_object() || !meta.contains("claims") || !meta["claims"].is_object()) continue;
    const nlohmann::json& c = meta["claims"];
    if (c.contains("model") && c["model"].is_string()) claim.model = c["model"];
    if (c.contains("consistency") && c["consistency"].is_string()) {
      claim.consistency = c["consistency"];
    }
  }
  return claim;
}

// The outcome of one file: an exit code in check's terms and, for --json, its JSON object.
struct FileOutcome {
  int code = kExitError;
  std::string json;
  JUnitCase junit;  // this file's test case for --junit
};

std::string JsonString(std::string_view s) {
  std::string out;
  history::AppendQuoted(out, s);  // the EDN escapes are a subset of JSON's for these messages
  return out;
}

size_t PeakRssBytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<size_t>(ru.ru_maxrss) * 1024;
}

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A linearizability result as a JUnit case: invalid is a <failure> with the counterexample's
// explanation and the text report, unknown is <skipped> with the limit that was hit.
JUnitCase LinearizabilityJUnitCase(const checker::CheckResult& r, const history::History& h,
                                   const std::string& file, std::string classname, double time_s) {
  JUnitCase c{.name = file,
              .classname = std::move(classname),
              .time_s = time_s,
              .outcome = JUnitOutcome::kPassed,
              .type = "",
              .message = "",
              .detail = ""};
  switch (r.validity) {
    case checker::Validity::kValid:
      return c;
    case checker::Validity::kUnknown:
      c.outcome = JUnitOutcome::kSkipped;
      c.message = fmt::format("unknown: {}", r.unknown_reason);
      return c;
    case checker::Validity::kInvalid:
      break;
  }
  c.outcome = JUnitOutcome::kFailure;
  c.type = "invalid";
  c.message = r.counterexample ? fmt::format("not linearizable: {}", r.counterexample->explanation)
                               : std::string("not linearizable");
  c.detail = checker::RenderText(r, h);
  return c;
}

int ExitFor(checker::Validity v) {
  switch (v) {
    case checker::Validity::kValid:
      return kExitOk;
    case checker::Validity::kInvalid:
      return kExitInvalid;
    case checker::Validity::kUnknown:
      return kExitUnknown;
  }
  return kExitError;
}

// Writes the HTML report to a.html; false (after saying why) when it could not.
bool WriteHtml(const CheckArgs& a, const std::string& file, const std::string& page) {
  std::FILE* f = std::fopen(a.html.c_str(), "wb");
  if (!f || std::fwrite(page.data(), 1, page.size(), f) != page.size()) {
    PrintError(fmt::format("write {}: cannot write the HTML report", a.html));
    if (f) std::fclose(f);
    return false;
  }
  std::fclose(f);
  if (!a.json) std::printf("%s: report written to %s\n", file.c_str(), a.html.c_str());
  return true;
}

FileOutcome CheckOne(const CheckArgs& args, const std::string& file,
                     const checker::CheckOptions& opts, bool write_html) {
  CheckArgs a = args;  // --model and --consistency may come from the file's claims
  FileOutcome out;
  const auto start = std::chrono::steady_clock::now();
  out.junit = JUnitCase{.name = file,
                        .classname = fmt::format("faultline.check.{}", a.model),
                        .time_s = 0,
                        .outcome = JUnitOutcome::kError,
                        .type = "error",
                        .message = "",
                        .detail = ""};
  auto error_json = [&](const std::string& message) {
    out.junit.message = message;
    return fmt::format("{{\"file\":{},\"verdict\":\"error\",\"error\":{}}}", JsonString(file),
                       JsonString(message));
  };
  // Could not check: said on stderr, and in the JSON and JUnit outcomes.
  auto fail = [&](const Error& error) {
    PrintError(error.message());
    out.json = error_json(error.message());
    return out;
  };
  auto format = history::ParseFormat(a.format);
  if (!format) {
    return fail(format.error());
  }
  std::string content_note;
  auto t0 = std::chrono::steady_clock::now();
  // A file is mapped, not read into memory, and the pages already parsed are given back as the
  // ops stream past: a transactional history of a million transactions is ~0.5 GB of text.
  auto opened = HistoryText::Open(file);
  if (!opened) {
    return fail(opened.error());
  }
  HistoryText& mapped = *opened;
  const std::string_view content = mapped.text();
  history::Format detected =
      *format == history::Format::kAuto ? history::DetectFormat(content) : *format;
  if (detected == history::Format::kLog) {
    // An immutable log is verified before its ops are trusted, as `audit verify` does.
    auto verdict = VerifyLogForCheck(content, file, a.key);
    if (!verdict) {
      return fail(verdict.error());
    }
    content_note = *verdict;
    mapped.Release(content.data() + content.size());
  }
  // The ops are read one by one. At the first op the model is settled (the run's claims come in
  // the metadata ahead of the ops): a transactional one decodes each op as it comes and keeps only
  // the transactions; the others collect the ops into a History.
  history::ReadReport report;
  bool settled = false;
  std::optional<history::TxnDecoder> decoder;
  std::vector<history::Op> ops;
  history::Source src{.name = file, .lines = {}};
  auto settle = [&] {
    settled = true;
    if (const Claim claim = ClaimFromMetadata(report.metadata);
        !claim.model.empty() && (!a.model_given || a.model == claim.model)) {
      const bool take_consistency = !claim.consistency.empty() && !a.consistency_given;
      if (!a.model_given || take_consistency) {
        a.model = claim.model;
        if (take_consistency) a.consistency = claim.consistency;
        history::JoinNote(content_note,
                          fmt::format("checked as its run claims: --model {} --consistency {}",
                                      a.model, a.consistency));
        out.junit.classname = fmt::format("faultline.check.{}", a.model);
      }
    }
    if (checker::ParseTxnModel(a.model)) decoder.emplace(file);
  };
  Status read = history::ForEachOp(
      content, file, {.format = detected},
      [&](history::Op&& op, int64_t line, const char* at) -> Status {
        if (!settled) settle();
        if (decoder) {
          mapped.Release(at);
          return decoder->Add(std::move(op), line);
        }
        ops.push_back(std::move(op));
        src.lines.push_back(line);
        return OkStatus();
      },
      &report);
  if (read && !settled) settle();
  std::optional<history::History> h;
  std::vector<history::Txn> txns;
  size_t events = 0;
  if (read && decoder) {
    events = decoder->ops();
    Result<std::vector<history::Txn>> decoded = decoder->Finish();
    if (!decoded) {
      read = std::move(decoded).error();
    } else {
      txns = std::move(*decoded);
      history::JoinNote(report.note, decoder->TimeRegressionNote());
    }
  } else if (read) {
    Result<history::History> built = history::History::Build(std::move(ops), src);
    if (built) {
      h = std::move(*built);
      events = h->size();
      history::JoinNote(report.note, history::TimeRegressionNote(*h));
    } else {
      read = std::move(built).error();
    }
  }
  if (!read) {
    return fail(read.error());
  }
  double parse_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  history::JoinNote(content_note, report.note);

  if (auto txn_model = checker::ParseTxnModel(a.model)) {
    // Transactional histories: the Elle-class checker, its Verdict printed as the others are.
    auto consistency = checker::ParseConsistency(a.consistency);
    if (!consistency) {
      return fail(consistency.error());
    }
    checker::TxnCheckOptions topts;
    topts.model = *txn_model;
    topts.consistency = *consistency;
    const checker::Verdict verdict = checker::CheckTxns(txns, topts);
    txns = {};  // the input, up to a GB for large histories, is no longer needed
    out.code = ExitFor(verdict.validity);
    out.junit = checker::VerdictJUnitCase(verdict, out.junit.classname, Since(start));
    out.junit.name = file;
    if (a.json) {
      out.json = fmt::format(
          "{{\"file\":{},\"format\":\"{}\",\"note\":{},\"parse_ms\":{:.3f},"
          "\"peak_rss_bytes\":{},\"result\":{}}}",
          JsonString(file), history::FormatName(report.format), JsonString(content_note), parse_ms,
          PeakRssBytes(), verdict.json);
    } else {
      std::printf("%s: %s, %zu events read in %.1f ms\n", file.c_str(),
                  std::string(history::FormatName(report.format)).c_str(), events, parse_ms);
      if (!content_note.empty()) std::printf("  %s\n", content_note.c_str());
      std::printf("%s: %s\n%s", std::string(checker::ValidityName(verdict.validity)).c_str(),
                  verdict.summary.c_str(), verdict.detail.c_str());
      if (!verdict.detail.empty() && verdict.detail.back() != '\n') std::fputc('\n', stdout);
    }
    if (write_html && !WriteHtml(a, file, checker::RenderTxnHtml(verdict))) out.code = kExitError;
    return out;
  }
  auto result = checker::Check(*h, opts);
  if (!result) return fail(result.error().WithContext(file));
  out.code = ExitFor(result->validity);
  out.junit = LinearizabilityJUnitCase(*result, *h, file, out.junit.classname, Since(start));
  if (a.json) {
    out.json = fmt::format(
        "{{\"file\":{},\"format\":\"{}\",\"note\":{},\"parse_ms\":{:.3f},\"peak_rss_bytes\":{},"
        "\"result\":{}}}",
        JsonString(file), history::FormatName(report.format), JsonString(content_note), parse_ms,
        PeakRssBytes(), checker::RenderJson(*result, *h));
  } else {
    std::string text = checker::RenderText(*result, *h);
    std::printf("%s: %s, %zu events read in %.1f ms\n", file.c_str(),
                std::string(history::FormatName(report.format)).c_str(), h->size(), parse_ms);
    if (!content_note.empty()) std::printf("  %s\n", content_note.c_str());
    std::fputs(text.c_str(), stdout);
    if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  }
  if (write_html && !WriteHtml(a, file, checker::RenderHtml(*result, *h))) out.code = kExitError;
  return out;
}

int RunCheck(const CheckArgs& a) {
  checker::CheckOptions opts;
  opts.model = a.model;
  opts.time_limit_s = a.time_limit_s;
  opts.memory_limit_mb = a.memory_limit_mb;
  opts.threads = a.threads;
  if (!a.initial.empty()) {
    auto v = history::ParseEdn(a.initial, "--initial");
    if (!v) {
      PrintError(v.error().message());
      return kExitError;
    }
    opts.initial = *v;
  }
  if (!a.html.empty() && a.files.size() != 1) {
    PrintError("check: --html takes exactly one FILE");
    return kExitError;
  }
  // Said before any file is read: a large history takes seconds to read.
  if (auto consistency = checker::ParseConsistency(a.consistency); !consistency) {
    PrintError(consistency.error().message());
    return kExitError;
  }
  bool any_invalid = false, any_error = false, any_unknown = false;
  std::vector<std::string> jsons;
  JUnitSuite suite{.name = fmt::format("faultline check {}", a.model),
                   .timestamp = JUnitTimestampNow(),
                   .time_s = 0,
                   .properties = {{"model", a.model}},
                   .cases = {}};
  for (const std::string& file : a.files) {
    FileOutcome o = CheckOne(a, file, opts, !a.html.empty());
    any_invalid |= o.code == kExitInvalid;
    any_error |= o.code == kExitError;
    any_unknown |= o.code == kExitUnknown;
    jsons.push_back(std::move(o.json));
    suite.cases.push_back(std::move(o.junit));
  }
  if (!a.junit.empty()) {
    const std::vector<JUnitSuite> suites = {suite};
    if (Status st = WriteJUnit(a.junit, suites); !st) {
      PrintError(st.error().message());
      return kExitError;
    }
  }
  if (a.json) {
    std::string all =
        a.files.size() == 1 ? jsons[0] : "[" + fmt::format("{}", fmt::join(jsons, ",")) + "]";
    std::puts(all.c_str());
  }
  if (any_invalid) return kExitInvalid;
  if (any_error) return kExitError;
  if (any_unknown) return kExitUnknown;
  return kExitOk;
}

}  // namespace

Result<HistoryText> HistoryText::Open(const std::string& path) {
  HistoryText t;
  if (path == "-") {
    FAULTLINE_ASSIGN_OR_RETURN(std::string all, history::ReadFileToString(path));
    t.piped_ = std::make_unique<std::string>(std::move(all));
  } else {
    FAULTLINE_ASSIGN_OR_RETURN(t.mapped_, MappedFile::Open(path));
  }
  return t;
}

void RegisterCheckCommand(CLI::App& app, Action& run) {
  auto args = std::make_shared<CheckArgs>();
  std::string models;
  for (const std::string& m : checker::ModelNames()) models += (models.empty() ? "" : ", ") + m;
  CLI::App* c = app.add_subcommand(
      "check",
      "Check histories: linearizability or transactional consistency (Elle-class)\n"
      "Linearizability against a model (registers, kv, sets, queues, a mutex); with --model\n"
      "list-append or rw-register, transactions against a --consistency level.\n"
      "Exit status: 0 valid, 1 invalid, 2 unknown (a limit was hit), 3 could not check.\n"
      "With several files: 1 if any is invalid, else 3 if any could not be checked, else 2 if\n"
      "any is unknown, else 0. A tamper-evident log is verified first and refused if tampered.\n"
      "Examples:\n"
      "  faultline check history.edn --model cas-register\n"
      "  faultline check run.log --model cas-register --key faultline.pub --json\n"
      "  faultline check kv.txt --model kv --html report.html\n"
      "  faultline check kv.txt --model kv-unpartitioned   # one search over the whole map: it\n"
      "                        # learns failures per key and backjumps over other keys' ops\n"
      "  faultline check txns.edn --model list-append --consistency snapshot-isolation\n"
      "  faultline check runs/0001/history.log   # a campaign's txn history: checked as its\n"
      "                        # run claims (model and consistency from the log's metadata)\n"
      "  faultline check a.edn b.edn --junit check.xml            # a test case per file, for CI\n"
      "Transactional models (list-append, rw-register) name Adya/Elle anomalies; what each\n"
      "--consistency forbids:\n" +
          checker::ConsistencyTable());
  c->add_option("FILE", args->files, "History files (any readable format)")->required();
  c->add_option("--model", args->model, "Model: " + models + ", list-append, rw-register")
      ->capture_default_str();
  c->add_option("--consistency", args->consistency,
                "For list-append and rw-register: read-committed, snapshot-isolation, "
                "strong-session-snapshot-isolation, serializable, strong-session-serializable, "
                "strict-serializable (default: what the history's run claims, else the "
                "strongest)")
      ->capture_default_str();
  c->add_option(
       "--format", args->format,
       "Input format: auto, jsonl, json (an array of ops, as elle-cli reads), edn, etcd-log, log")
      ->capture_default_str();
  c->add_option("--initial", args->initial,
                "Initial model state as EDN, e.g. 0 or nil (default: the model's own)");
  c->add_option("--time-limit", args->time_limit_s,
                "Seconds per file before the verdict is unknown (0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--memory-limit", args->memory_limit_mb,
                "MB of search tables per file before the verdict is unknown (default: half of "
                "physical memory; 0 = no limit)")
      ->capture_default_str();
  c->add_option("--threads", args->threads, "Worker threads for partitions (0 = all cores)");
  c->add_option("--key", args->key, "Public key (PEM) to authenticate a tamper-evident log");
  c->add_flag("--json", args->json, "Print one JSON object per file");
  c->add_option("--html", args->html, "Write a self-contained HTML report (one FILE only)");
  c->add_option("--junit", args->junit,
                "Also write JUnit XML for CI: a test case per FILE (invalid: <failure> with the "
                "counterexample; unknown: <skipped> with the reason; could not check: <error>)");
  c->callback([&run, args, c] {
    args->model_given = c->count("--model") > 0;
    args->consistency_given = c->count("--consistency") > 0;
    run = [args] { return RunCheck(*args); };
  });
}

}  // namespace faultline::tools
