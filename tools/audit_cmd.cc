// faultline audit verify | head | keygen, and the log helpers `check` and `convert` use.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/junit.h"
#include "history/audit.h"
#include "history/crypto.h"
#include "history/jsonl.h"
#include "history/log.h"
#include "tools/commands.h"

namespace faultline::tools {
namespace {

struct VerifyArgs {
  std::string log;
  std::string key;
  std::string expect_head;
  bool json = false;
  bool allow_unauthenticated = false;
  std::string junit;  // --junit FILE
};

std::string Quoted(std::string_view s) {
  std::string out;
  history::AppendQuoted(out, s);
  return out;
}

Result<history::VerifyOptions> MakeVerifyOptions(const std::string& key_path,
                                                 const std::string& expect_head) {
  history::VerifyOptions opts;
  opts.expected_head = expect_head;
  if (!key_path.empty()) {
    auto key = history::LoadPublicKey(key_path);
    if (!key) return key.error().WithContext("audit: --key");
    opts.key = *key;
  }
  return opts;
}

// One test case for the log: intact passes; tampered and crash prefix (a CI gate rejects an
// unsealed log too) are a <failure>; a signed log checked without --key is <skipped> (its
// signatures are unknown); unreadable is an <error>.
JUnitSuite AuditJUnitSuite(const std::string& log, const history::AuditReport& r, int code,
                           double seconds) {
  JUnitCase c{.name = log,
              .classname = "faultline.audit.verify",
              .time_s = seconds,
              .outcome = JUnitOutcome::kPassed,
              .type = std::string(history::AuditStatusName(r.status)),
              .message = fmt::format("{}: {}", history::AuditStatusName(r.status), r.message),
              .detail = r.head.empty() ? std::string() : fmt::format("head {}\n", r.head)};
  if (code == history::kAuditExitUnauthenticated) {
    c.outcome = JUnitOutcome::kSkipped;
    c.message = "signed log verified without --key: signatures not checked";
  } else if (r.status == history::AuditStatus::kTampered ||
             r.status == history::AuditStatus::kCrashPrefix) {
    c.outcome = JUnitOutcome::kFailure;
  } else if (r.status == history::AuditStatus::kUnreadable) {
    c.outcome = JUnitOutcome::kError;
  } else if (code != 0) {
    c.outcome = JUnitOutcome::kFailure;  // e.g. a head other than --expect-head
  }
  return JUnitSuite{.name = "faultline audit verify",
                    .timestamp = JUnitTimestampNow(),
                    .time_s = seconds,
                    .properties = {{"log", log}, {"head", r.head}},
                    .cases = {std::move(c)}};
}

int RunVerify(const VerifyArgs& a) {
  auto opts = MakeVerifyOptions(a.key, a.expect_head);
  if (!opts) {
    PrintError(opts.error().message());
    return history::kAuditExitUnreadable;
  }
  const auto start = std::chrono::steady_clock::now();
  history::AuditReport r = history::VerifyLogFile(a.log, *opts);
  int code = history::AuditExitCode(r, a.allow_unauthenticated);
  if (!a.junit.empty()) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::vector<JUnitSuite> suites = {AuditJUnitSuite(a.log, r, code, seconds)};
    if (Status st = WriteJUnit(a.junit, suites); !st) {
      PrintError(st.error().message());
      return history::kAuditExitUnreadable;
    }
  }
  if (a.json) {
    // The library's report, with the file and the exit code this command gives.
    std::string json = history::AuditReportToJson(r);
    std::string prefix = fmt::format("{{\"log\":{},\"exit\":{},", Quoted(a.log), code);
    std::puts((prefix + json.substr(1)).c_str());
  } else {
    std::printf("%s: %s: %s\n", a.log.c_str(),
                std::string(history::AuditStatusName(r.status)).c_str(), r.message.c_str());
    if (!r.head.empty()) std::printf("head %s\n", r.head.c_str());
    if (code == history::kAuditExitUnauthenticated) {
      std::printf(
          "%s: signed log verified without --key: signatures not checked (pass --key "
          "PUBLIC_KEY, or --allow-unauthenticated to accept the chain alone)\n",
          a.log.c_str());
    }
  }
  return code;
}

int RunHead(const std::string& log) {
  history::AuditReport r = history::VerifyLogFile(log, {});
  if (r.head.empty() || r.status == history::AuditStatus::kUnreadable ||
      r.status == history::AuditStatus::kTampered) {
    PrintError(fmt::format("audit head: {}: {}", log, r.message));
    return history::AuditExitCode(r, true);
  }
  std::printf("%s\n", r.head.c_str());
  if (r.status != history::AuditStatus::kIntact) {
    PrintNote(fmt::format("{}: {} (head of the intact prefix)", log, r.message));
  }
  return kExitOk;
}

int RunKeygen(const std::string& dir) {
  auto paths = history::GenerateKeyPairFiles(dir);
  if (!paths) {
    PrintError(paths.error().message());
    return kExitError;
  }
  std::printf(
      "private key: %s (keep it secret; used to sign logs)\npublic key:  %s (give it to "
      "CI: faultline audit verify LOG --key %s)\n",
      paths->private_key.c_str(), paths->public_key.c_str(), paths->public_key.c_str());
  return kExitOk;
}

}  // namespace

Result<std::string> VerifyLogForCheck(std::string_view content, const std::string& path,
                                      const std::string& public_key_path) {
  FAULTLINE_ASSIGN_OR_RETURN(history::VerifyOptions opts, MakeVerifyOptions(public_key_path, ""));
  history::AuditReport r = history::VerifyLog(content, opts);
  switch (r.status) {
    case history::AuditStatus::kTampered:
    case history::AuditStatus::kUnreadable:
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("{}: refused: log {}: {}", path,
                                   history::AuditStatusName(r.status), r.message));
    case history::AuditStatus::kCrashPrefix:
      return fmt::format("log: {}", r.message);
    case history::AuditStatus::kIntact:
      if (r.signed_log && !r.signatures_checked) {
        return fmt::format("log: {} (signatures not checked: no --key)", r.message);
      }
      return fmt::format("log: {}", r.message);
  }
  return std::string();
}

int ConvertToLog(const history::History& history, const std::vector<std::string>& metadata,
                 const std::string& path, const std::string& sign_key_path) {
  history::LogOptions opts;
  opts.fsync = history::FsyncPolicy::kNever;  // fsynced once on close
  if (!sign_key_path.empty()) {
    auto key = history::LoadPrivateKey(sign_key_path);
    if (!key) {
      PrintError(key.error().WithContext("convert: --sign-key").message());
      return kExitError;
    }
    opts.signing_key = *key;
  }
  auto summary = history::WriteHistoryLog(path, history, metadata, opts);
  if (!summary) {
    PrintError(summary.error().message());
    return kExitError;
  }
  PrintNote(fmt::format("{}: {} ops in {} records, {}sealed, head {}", path, summary->ops,
                        summary->records, opts.signing_key ? "signed and " : "", summary->head));
  return kExitOk;
}

void RegisterAuditCommands(CLI::App& app, Action& run) {
  CLI::App* audit = app.add_subcommand(
      "audit", "Verify tamper-evident history logs (for CI), print their head, make keys");
  audit->require_subcommand(1);

  auto v = std::make_shared<VerifyArgs>();
  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Verify a log's hash chain, seal and signatures.\n"
      "Exit status: 0 intact and sealed (and, with --key, every signature good);\n"
      "  4 tampered (an edited, deleted, swapped or inserted record, a wrong signature or key,\n"
      "    a head other than --expect-head); 5 crash prefix (intact but unsealed, or a torn last\n"
      "    record: says up to which signed checkpoint it is authenticated); 6 unreadable;\n"
      "  7 a signed log verified without --key (chain intact, signatures not checked).\n"
      "Example (CI): faultline audit verify run.log --key faultline.pub --expect-head $HEAD");
  verify->add_option("LOG", v->log, "The log file")->required();
  verify->add_option("--key", v->key, "Public key (PEM) the log must be signed with");
  verify->add_option("--expect-head", v->expect_head,
                     "Hex head hash the log must end with (from 'faultline audit head')");
  verify->add_flag("--json", v->json, "Print the report as JSON");
  verify->add_flag("--allow-unauthenticated", v->allow_unauthenticated,
                   "Exit 0 for a signed log checked without --key (chain and seal only)");
  verify->add_option("--junit", v->junit,
                     "Also write JUnit XML for CI: one test case for the log (tampered or crash "
                     "prefix: <failure>; signatures not checked: <skipped>; unreadable: <error>)");
  verify->callback([&run, v] { run = [v] { return RunVerify(*v); }; });

  auto head_log = std::make_shared<std::string>();
  CLI::App* head = audit->add_subcommand(
      "head", "Print the log's head hash, so a CI job can pin it with --expect-head");
  head->add_option("LOG", *head_log, "The log file")->required();
  head->callback([&run, head_log] { run = [head_log] { return RunHead(*head_log); }; });

  auto dir = std::make_shared<std::string>();
  CLI::App* keygen = audit->add_subcommand(
      "keygen",
      "Make an Ed25519 key pair: DIR/faultline.key (private, mode 0600) and DIR/faultline.pub");
  keygen->add_option("DIR", *dir, "Directory for the key files (created if missing)")->required();
  keygen->callback([&run, dir] { run = [dir] { return RunKeygen(*dir); }; });
}

}  // namespace faultline::tools
