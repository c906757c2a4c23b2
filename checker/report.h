// faultline::checker report rendering: a CheckResult (checker.h) for a person, as text, as JSON
// and as a self-contained HTML page (issue 3 §3).
//
// Op numbers shown to people are the ops' own `index` fields (Op::index, as in the history
// file), not positions in the History; the counterexample's positions are converted.
//
// The HTML page needs no network: inline CSS, inline SVG and a little inline JavaScript. Time runs
// across in history order (one column step per event), one row per process, one bar per op from
// its invocation to its completion; info ops and ops that never completed run to the end of the
// history. Nemesis ops sit in their own band above the clients. For an invalid verdict the failing
// op is highlighted and the longest linearizable prefix is drawn as numbered markers joined by a
// line. Every bar is an element with class "op" and a data-op-index attribute; the failing op's
// bar also has class "failing", and when the counterexample names a key, ops of other keys are
// drawn faintly (class "other-key"). Large histories are drawn as a window of at most
// HtmlOptions::max_ops ops around the failing op, and the page says so.
//
// A transactional verdict has its own page: RenderTxnHtml, which draws each dependency cycle.
//
// Thread-safety: pure functions; call them from any thread.
#ifndef FAULTLINE_CHECKER_REPORT_H_
#define FAULTLINE_CHECKER_REPORT_H_

#include <cstddef>
#include <string>

#include "checker/checker.h"
#include "checker/verdict.h"
#include "history/history.h"

namespace faultline::checker {

// A few lines: the verdict and its figures, then the counterexample (failing op, explanation,
// longest prefix, states) or why the result is unknown. Ends with a newline.
std::string RenderText(const CheckResult& result, const history::History& history);

// One JSON object: verdict, ops, partitions, configurations, check_ms, peak_memory_bytes,
// unknown_reason, unknown_keys, and counterexample (null unless invalid):
// {key, failing_op: {index, position, op, completion}, prefixes: [[op index...]...], states,
// explanation}. indent < 0: one line; otherwise pretty-printed with that indent.
std::string RenderJson(const CheckResult& result, const history::History& history, int indent = -1);

struct HtmlOptions {
  std::string title = "faultline check";  // shown in the page title and heading
  size_t max_ops = 1500;                  // bars drawn at most (a window around the failing op)
};

// A complete HTML document.
std::string RenderHtml(const CheckResult& result, const history::History& history,
                       const HtmlOptions& options = {});

// A transactional verdict (txn_checker.h) as a complete HTML document: the summary, then each
// example; a dependency cycle is drawn as an SVG (class "cycle"): its transactions on a circle
// (elements of class "txn", data-txn="T12"), one arrow per edge (class "edge", data-kind="rw",
// "ww", "wr", "process" or "realtime") labelled with its kind, and the edges in words below.
std::string RenderTxnHtml(const Verdict& verdict, const HtmlOptions& options = {});

}  // namespace faultline::checker

#endif  // FAULTLINE_CHECKER_REPORT_H_
