// A register checker that uses etcd's revisions as the version order (issue 5 §6): near-linear
// time, where the linearizability search is exponential in the worst case.
//
// Input: a register history (f read / write / cas, one register per Op::key) whose completions
// carry etcd's numbers, as the campaign records them:
// - an ok write or cas: `:revision`, the revision the write created (the key's new mod_revision);
// - an ok read: `:mod_revision`, the revision of the version it read (0 = the key did not exist).
// Failed ops changed nothing and are ignored; info (or never completed) writes may or may not have
// taken effect, at a revision nobody told us.
//
// Per key, the versions are: the initial one (revision 0, value nil), each ok write's revision,
// and each revision that reads name but no ok write created — attributed to an unacknowledged
// (info) write of the value read, invoked before the first read of that revision (or of a later
// one) completed, and not invoked after an ok write of a higher revision completed. An ok cas
// whose previous named version does not hold its old value likewise wants an info write of old
// that took effect unread just before it. One write per revision or gap: a matching, found
// greedily (the eligible writes of each form a prefix in invocation order). The checker then
// looks for these violations (positions in the history are real-time order):
//   a. wrong-value: a read's value differs from that of the write that created its revision (or
//      two reads of one revision disagree); value-never-written: a read names a revision that no
//      ok write created and no info write can explain (none of that value eligible, see above);
//   b. stale-read: a read saw a revision older than that of an ok write that completed before the
//      read was invoked;
//   c. future-read: a read saw a revision whose write (or the write of an earlier revision) was
//      invoked after the read completed;
//   d. non-monotonic-reads: a read completed before another was invoked, yet saw a newer
//      revision; write-order: an ok write completed before another write was invoked, yet has the
//      higher revision; duplicate-revision: two writes created the same revision;
//   e. cas-precondition: an ok cas [old new] at revision R, where the version just before R (the
//      greatest known revision below R on that key, or the initial one) does not hold old, and
//      no info write of old can have taken effect in between unread (none could have, or no
//      revision lies between: etcd's revisions are consecutive over the whole store).
// What this proves: the linearization "versions in revision order; each version's write, then
// the reads of it" respects real time exactly when b, c and d hold (a pair of ops ordered by that
// linearization but in the opposite order in real time is one of them); a and e make it a legal
// register (and cas) sequence. So with no violation, and every revision attributed, the history
// is linearizable (info writes never read are left out — an unacknowledged op may not have taken
// effect — except those placed just before a cas that needed their value). Conversely a violation
// means the history is not linearizable IN REVISION ORDER: either it is not linearizable at all, or
// etcd's revisions contradict real time or the values — a bug of etcd (or of the recording) either
// way, even when the values alone could be explained by some other order (the search, which ignores
// revisions, then says valid: see runner/check.cc).
//
// Unknown instead of valid (a violation found elsewhere still makes it invalid):
// - an ok write or cas without `:revision`: its key is not checked;
// - an ok read without `:mod_revision`: the read is left out;
// - an ok cas whose previous known version does not hold old, while an info write of old could
//   have taken effect in between unread, but the matching gave each such write another revision
//   or gap, or only an info cas whose own precondition fails was left (the search decides);
// - an info cas attributed to a read revision whose precondition fails while another info write of
//   the same value could have been the source instead.
//
// Complexity: O(n log n) for n ops — per key, one sort of the versions by revision and of the
// info writes by value, then linear sweeps with prefix maxima and suffix minima; plus scans of
// the eligible info writes of a value, once per revision attributed and per ok cas whose previous
// version does not hold its old value (O(u * i) in the worst case for u such revisions and i
// info writes; both are few in a campaign).
//
// Thread-safety: pure functions.
#ifndef FAULTLINE_CHECKER_REVISION_CHECKER_H_
#define FAULTLINE_CHECKER_REVISION_CHECKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checker/checker.h"
#include "checker/verdict.h"
#include "common/result.h"
#include "history/history.h"

namespace faultline::checker {

struct RevisionViolation {
  std::string kind;  // "stale-read", "wrong-value", ... (see the header comment)
  int64_t count = 0;
  // Up to RevisionCheckOptions::max_examples, each naming op indexes, revisions and values:
  // "key 3: op 41 read -> 2 (mod_revision 17) invoked after op 30 write 4 completed at revision
  // 19".
  std::vector<std::string> examples;
};

struct RevisionCheckOptions {
  size_t max_examples = 3;
};

struct RevisionCheckResult {
  checker::Validity validity = checker::Validity::kValid;
  int64_t keys = 0;          // keys with register ops
  int64_t keys_checked = 0;  // keys not skipped for a missing :revision
  int64_t writes = 0;        // ok writes and cas
  int64_t reads = 0;         // ok reads checked
  int64_t versions = 0;      // known versions, initial ones excluded
  int64_t attributed = 0;    // revisions attributed to info writes
  int64_t inserted = 0;      // info writes never read, placed where a cas needs their value
  // Only kinds that occurred; the most telling first (stale-read, future-read, wrong-value,
  // value-never-written, cas-precondition, write-order, duplicate-revision, non-monotonic-reads).
  std::vector<RevisionViolation> violations;
  // Why the verdict is not valid when it is unknown, each with a count: "3 ok reads without
  // :mod_revision". Sorted.
  std::vector<std::string> unknown_reasons;
  // One sentence: "valid: 120 reads and 80 writes on 4 keys are linearizable in revision order".
  std::string explanation;
  double check_ms = 0;
};

// True when some ok write or cas completion carries :revision and some ok read :mod_revision: an
// etcd campaign's history recorded since reads record the version they saw. (Older runs, and
// fakes that record header revisions only, would be all unknown: they are not checked.)
bool HasRevisions(const history::History& history);

// Checks a register history in revision order. An error only for an op the register cannot
// decode (a cas whose value is not [old new]); the message names the op's index.
[[nodiscard]] Result<RevisionCheckResult> CheckRevisionOrder(
    const history::History& history, const RevisionCheckOptions& options = {});

// The result as one JSON object.
std::string RevisionCheckResultToJson(const RevisionCheckResult& result);

struct RevisionCheckerOptions {
  RevisionCheckOptions check;
  // The campaign read with serializable reads (they may be stale): said when the search and this
  // checker disagree.
  bool serializable_reads = false;
};

// CheckRevisionOrder as a Checker, meant as the second opinion beside the linearizability search
// (ComposeChecker::AddSecondOpinion): verdict "revision-order", anomalies by violation kind. It
// applies to histories with revisions (HasRevisions). Both verdicts are reported and neither
// overrides the other; when one says valid and the other invalid, Disagreement says so loudly:
// that is a bug to find (in etcd, the recording or a checker).
std::unique_ptr<Checker> MakeRevisionOrderChecker(RevisionCheckerOptions options = {});

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_REVISION_CHECKER_H_
