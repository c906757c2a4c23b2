#include "checker/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/junit.h"

namespace faultline::checker {
namespace {

using history::History;
using history::Op;
using history::OpType;
using history::Process;

constexpr size_t kTextPrefixLines = 20;  // prefix ops listed in the text report

int64_t OpIndex(const History& h, size_t pos) {
  return pos < h.size() ? h[pos].index : static_cast<int64_t>(pos);
}

// "invoke -> completion" for people: "1 invoke read nil -> 1 ok read 4".
std::string DescribeWithCompletion(const History& h, size_t pos) {
  if (pos >= h.size()) return fmt::format("op at position {} (not in the history)", pos);
  std::string s = history::Describe(h[pos]);
  size_t done = h.partner(pos);
  if (done != History::kNone && done > pos) {
    s += " -> " + history::Describe(h[done]);
  } else if (done == History::kNone) {
    s += " (never completed)";
  }
  return s;
}

std::string Bytes(size_t n) {
  if (n < 10 * 1024) return fmt::format("{} B", n);
  if (n < 10 * 1024 * 1024) return fmt::format("{:.1f} KiB", static_cast<double>(n) / 1024.0);
  return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1024.0 * 1024.0));
}

std::string Summary(const CheckResult& r) {
  return fmt::format("{} ops, {} partition{}, {} configurations, {:.3f} ms, peak memory {}", r.ops,
                     r.partitions, r.partitions == 1 ? "" : "s", r.configurations, r.check_ms,
                     Bytes(r.peak_memory_bytes));
}

// Text in the HTML page: XML's escapes, which HTML5 reads the same (common/junit.h).
std::string Esc(std::string_view s) { return XmlEscape(s); }

}  // namespace

std::string RenderText(const CheckResult& result, const History& history) {
  std::string out = fmt::format("{}: {}\n", ValidityName(result.validity), Summary(result));
  if (result.validity == Validity::kUnknown) {
    out += fmt::format("why unknown: {}\n",
                       result.unknown_reason.empty() ? "no reason given" : result.unknown_reason);
    // An unpartitioned history has one part, named by the empty key: no key list then.
    bool keyed = std::any_of(result.unknown_keys.begin(), result.unknown_keys.end(),
                             [](const std::string& k) { return !k.empty(); });
    if (keyed) out += fmt::format("undecided keys: {}\n", fmt::join(result.unknown_keys, ", "));
  }
  if (!result.counterexample) return out;
  const Counterexample& c = *result.counterexample;
  out += fmt::format("op {} cannot be linearized{}: {}\n", OpIndex(history, c.failing_op),
                     c.key.empty() ? "" : fmt::format(" (key {})", c.key),
                     DescribeWithCompletion(history, c.failing_op));
  if (!c.explanation.empty()) out += fmt::format("  why: {}\n", c.explanation);
  for (size_t p = 0; p < c.prefixes.size(); ++p) {
    const auto& prefix = c.prefixes[p];
    out += fmt::format("  {} linearizable prefix ({} op{}){}\n", p == 0 ? "longest" : "another",
                       prefix.size(), prefix.size() == 1 ? "" : "s", prefix.empty() ? "" : ":");
    if (p > 0) {
      std::vector<int64_t> idx;
      for (size_t pos : prefix) idx.push_back(OpIndex(history, pos));
      out += fmt::format("    ops {}\n", fmt::join(idx, ", "));
      continue;
    }
    size_t shown = std::min(prefix.size(), kTextPrefixLines);
    // The last ops matter most: they are the ones just before the failing op.
    for (size_t i = prefix.size() - shown; i < prefix.size(); ++i) {
      if (i == prefix.size() - shown && i > 0) out += fmt::format("    ... {} earlier ops\n", i);
      out += fmt::format("    {:>3}. {}\n", i + 1, DescribeWithCompletion(history, prefix[i]));
    }
  }
  if (!c.states.empty()) {
    out += fmt::format("  states just before it: {}\n", fmt::join(c.states, " | "));
  }
  return out;
}

std::string RenderJson(const CheckResult& result, const History& history, int indent) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["verdict"] = std::string(ValidityName(result.validity));
  j["ops"] = result.ops;
  j["partitions"] = result.partitions;
  j["configurations"] = result.configurations;
  j["check_ms"] = result.check_ms;
  j["peak_memory_bytes"] = result.peak_memory_bytes;
  j["unknown_reason"] = result.unknown_reason;
  j["unknown_keys"] = result.unknown_keys;
  if (result.counterexample) {
    const Counterexample& c = *result.counterexample;
    Json ce;
    ce["key"] = c.key;
    Json failing;
    failing["index"] = OpIndex(history, c.failing_op);
    failing["position"] = c.failing_op;
    failing["op"] = c.failing_op < history.size() ? history::Describe(history[c.failing_op]) : "";
    size_t done = c.failing_op < history.size() ? history.partner(c.failing_op) : History::kNone;
    failing["completion"] = done != History::kNone && done > c.failing_op
                                ? Json(history::Describe(history[done]))
                                : Json(nullptr);
    ce["failing_op"] = std::move(failing);
    Json prefixes = Json::array();
    for (const auto& prefix : c.prefixes) {
      Json p = Json::array();
      for (size_t pos : prefix) p.push_back(OpIndex(history, pos));
      prefixes.push_back(std::move(p));
    }
    ce["prefixes"] = std::move(prefixes);
    ce["states"] = c.states;
    ce["explanation"] = c.explanation;
    j["counterexample"] = std::move(ce);
  } else {
    j["counterexample"] = nullptr;
  }
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------
// HTML

namespace {

constexpr double kLabels = 100;  // the row label column
constexpr double kLeft = 16;     // the timeline's left margin
constexpr double kTop = 34;      // axis
constexpr double kRow = 28;      // row pitch
constexpr double kBar = 18;      // bar height
constexpr double kBandGap = 14;  // between the nemesis band and the clients
constexpr double kRight = 40;
constexpr double kCharWidth = 6.7;  // 11px monospace

struct Bar {
  size_t start = 0;  // position of the opening event
  size_t end = 0;    // position of the closing event, or History size when it never closed
  bool closed = false;
  size_t row = 0;
  std::string cls;
};

// True when position i opens an op (an invocation, or the first half of a nemesis pair).
bool Opens(const History& h, size_t i) {
  size_t p = h.partner(i);
  if (p == History::kNone) return h[i].is_invoke() || !h[i].is_client();
  return p > i;
}

// A short label for a bar: "write 3", "read → 4", "cas [1 2]", "get \"k\" → \"ab\"", and for
// Jepsen independent values [key value] "0: read → 4".
std::string Label(const History& h, size_t pos) {
  const Op& inv = h[pos];
  size_t done = h.partner(pos);
  const Op* ok =
      done != History::kNone && done > pos && h[done].type == OpType::kOk ? &h[done] : nullptr;
  history::Value arg = inv.value;
  history::Value result = ok != nullptr ? ok->value : history::Value();
  std::string s;
  bool pair = arg.is_sequential() && arg.size() == 2;
  bool independent = inv.is_client() && pair && inv.f != "cas" &&
                     (ok == nullptr || (result.is_sequential() && result.size() == 2 &&
                                        result.items()[0] == arg.items()[0]));
  if (inv.f == "cas" && pair && arg.items()[1].is_sequential() && arg.items()[1].size() == 2) {
    independent = true;
  }
  if (independent) {
    s = arg.items()[0].ToEdn() + ": ";
    history::Value inner = arg.items()[1];
    arg = inner;
    if (ok != nullptr && result.is_sequential() && result.size() == 2) {
      history::Value r = result.items()[1];
      result = r;
    }
  }
  s += inv.f.empty() ? "?" : inv.f;
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string at -O2.
  if (inv.key) s.append(" ").append(inv.key->ToEdn());
  if (!arg.is_nil()) s.append(" ").append(arg.ToEdn());
  if (ok != nullptr && !(result == arg)) s.append(" \u2192 ").append(result.ToEdn());
  return s;
}

// The key an op belongs to, as EDN, when the history is partitioned: Op::key (kv), or the first
// element of a Jepsen independent [key value] pair. "" when it has none.
std::string KeyOf(const Op& op) {
  if (op.key) return op.key->ToEdn();
  if (op.value.is_sequential() && op.value.size() == 2) return op.value.items()[0].ToEdn();
  return "";
}

std::string ClassFor(const History& h, size_t pos) {
  if (!h[pos].is_client()) return "nemesis";
  const size_t done = h.partner(pos);
  // An invocation without a completion is drawn as "open"; a completion by its type's name.
  if (done == History::kNone || h[done].type == OpType::kInvoke) return "open";
  return std::string(OpTypeName(h[done].type));
}

// Fits a label into `width` pixels, or returns "" when not even a few characters fit.
std::string Fit(const std::string& label, double width) {
  auto room = static_cast<size_t>(std::max(0.0, (width - 8) / kCharWidth));
  if (room < 3) return "";
  // Count UTF-8 code points so that the arrow is one character.
  size_t chars = 0;
  for (unsigned char c : label) chars += (c & 0xC0) != 0x80 ? 1 : 0;
  if (chars <= room) return label;
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < label.size(); ++i) {
    auto c = static_cast<unsigned char>(label[i]);
    if ((c & 0xC0) != 0x80) {
      if (n + 1 >= room) break;
      ++n;
    }
    out += label[i];
  }
  return out + "\u2026";
}

const char kCss[] = R"css(
:root { --ok:#2e7d32; --okf:#dcefdc; --fail:#9e9e9e; --info:#e08a00; --bad:#c62828;
        --badf:#ffd0d4; --nem:#6a3fb5; --nemf:#ebe3f7; --lin:#1565c0; --ink:#1d2330; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f6f7f9; }
header { padding: 18px 28px 12px; background: #fff; border-bottom: 1px solid #dde1e7; }
h1 { font-size: 19px; margin: 0 0 6px; font-weight: 600; }
h1 .verdict { display: inline-block; padding: 2px 12px; border-radius: 12px; color: #fff;
              font-size: 14px; margin-left: 10px; vertical-align: 2px; letter-spacing: .04em; }
.verdict.valid { background: var(--ok); } .verdict.invalid { background: var(--bad); }
.verdict.unknown { background: var(--info); }
.stats { color: #5b6474; font-size: 13px; }
main { padding: 14px 28px 28px; }
.card { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 12px 16px;
        margin-bottom: 14px; }
.card.problem { border-left: 5px solid var(--bad); }
.card.unsure { border-left: 5px solid var(--info); }
.card h2 { font-size: 15px; margin: 0 0 6px; }
.card code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace;
                    font-size: 12.5px; }
.state { background: #eef1f6; border: 1px solid #d5dae3; border-radius: 4px; padding: 0 6px;
         margin-left: 4px; }
.why { font-size: 15px; margin: 4px 0 8px; }
.note { color: #8a5a00; background: #fff6e0; border: 1px solid #f1d48a; border-radius: 6px;
        padding: 6px 10px; margin-bottom: 10px; font-size: 13px; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; font-size: 13px;
          color: #3c4454; margin: 2px 0 10px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.legend .hint { color: #7a8291; margin-left: auto; }
.sw { display: inline-block; width: 26px; height: 12px; border-radius: 3px; border: 1.5px solid; }
.sw-ok { background: var(--okf); border-color: var(--ok); }
.sw-fail { background: #f2f2f2; border-color: var(--fail); border-style: dashed; }
.sw-info { background: linear-gradient(90deg, #ffe3b3, #fff); border-color: var(--info);
           border-style: dashed; }
.sw-bad { background: var(--badf); border-color: var(--bad); border-width: 2.5px; }
.sw-nem { background: var(--nemf); border-color: var(--nem); }
.sw-lin { width: 16px; height: 16px; border-radius: 50%; background: var(--lin);
          border-color: var(--lin); }
.timeline { display: flex; background: #fff; border: 1px solid #dde1e7; border-radius: 8px;
            overflow: hidden; }
.labels { flex: none; border-right: 1px solid #eef0f3; }
.axistitle { font-size: 10px; fill: #7a8291; }
#scroller { overflow-x: auto; flex: 1; }
svg { display: block; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.axis text { font-size: 10px; fill: #7a8291; }
.axis line { stroke: #eef0f3; }
.rowlabel { font-size: 11px; fill: #3c4454; }
.band { fill: #faf8fd; }
.rowline { stroke: #f0f1f4; }
.op rect { stroke-width: 1.3; rx: 3; }
.op text { font-size: 11px; fill: #1d2330; pointer-events: none; }
.op.ok rect { fill: var(--okf); stroke: var(--ok); }
.op.fail rect { fill: #f2f2f2; stroke: var(--fail); stroke-dasharray: 4 2; }
.op.fail text { fill: #777; }
.op.info rect, .op.open rect { fill: url(#fade); stroke: var(--info); stroke-dasharray: 6 3; }
.op.nemesis rect { fill: var(--nemf); stroke: var(--nem); }
.op.failing rect { fill: var(--badf); stroke: var(--bad); stroke-width: 2.8; stroke-dasharray: none; }
.op.failing text { font-weight: 700; }
.op.other-key { opacity: .3; }
.op:hover rect, .op.selected rect { stroke-width: 2.6; filter: drop-shadow(0 1px 2px #0004); }
.lin polyline { fill: none; stroke: var(--lin); stroke-width: 1.6; stroke-dasharray: 5 3;
                opacity: .75; }
.lin circle { fill: var(--lin); stroke: #fff; stroke-width: 1.5; }
.lin text { font-size: 10px; fill: #fff; font-weight: 700; text-anchor: middle;
            font-family: system-ui, sans-serif; }
.failmark line { stroke: var(--bad); stroke-width: 1.5; stroke-dasharray: 3 3; }
.failmark text { fill: var(--bad); font-size: 11px; font-weight: 700; paint-order: stroke;
                 stroke: #fff; stroke-width: 4px; stroke-linejoin: round;
                 font-family: system-ui, sans-serif; }
#details { min-height: 22px; margin-top: 10px; font-family: ui-monospace, monospace;
           font-size: 12.5px; color: #3c4454; }
)css";

const char kScript[] = R"js(
window.onerror = function (msg, src, line) {
  document.body.setAttribute('data-js-error', String(msg) + ' (line ' + line + ')');
};
(function () {
  var details = document.getElementById('details');
  var selected = null;
  function show(e) {
    var g = e.currentTarget;
    details.textContent = 'op ' + g.getAttribute('data-op-index') + ': ' +
        g.getAttribute('data-desc');
    if (e.type === 'click') {
      if (selected) selected.classList.remove('selected');
      selected = g;
      g.classList.add('selected');
    }
  }
  var bars = document.querySelectorAll('.op');
  for (var i = 0; i < bars.length; i++) {
    bars[i].addEventListener('mouseenter', show);
    bars[i].addEventListener('click', show);
  }
  var failing = document.querySelector('.op.failing');
  var scroller = document.getElementById('scroller');
  if (failing && scroller) {
    var box = failing.getBBox();
    scroller.scrollLeft = Math.max(0, box.x + box.width / 2 - scroller.clientWidth / 2);
    details.textContent = 'op ' + failing.getAttribute('data-op-index') + ': ' +
        failing.getAttribute('data-desc');
  }
  document.body.setAttribute('data-ready', 'true');
})();
)js";

}  // namespace

std::string RenderHtml(const CheckResult& result, const History& history,
                       const HtmlOptions& options) {
  const size_t n = history.size();
  const Counterexample* ce = result.counterexample ? &*result.counterexample : nullptr;
  const size_t failing = ce != nullptr && ce->failing_op < n ? ce->failing_op : History::kNone;

  // Which ops to draw: all of them, or a window of at most max_ops openings around the failing op.
  std::vector<size_t> openings;
  for (size_t i = 0; i < n; ++i) {
    if (Opens(history, i)) openings.push_back(i);
  }
  size_t lo = 0;
  size_t hi = n;  // events [lo, hi) are in view
  bool windowed = false;
  const size_t cap = std::max<size_t>(options.max_ops, 1);
  if (openings.size() > cap) {
    windowed = true;
    size_t center = 0;
    if (failing != History::kNone) {
      center = static_cast<size_t>(std::lower_bound(openings.begin(), openings.end(), failing) -
                                   openings.begin());
    }
    size_t first = center > cap / 2 ? center - cap / 2 : 0;
    first = std::min(first, openings.size() - cap);
    size_t last = first + cap;  // exclusive
    lo = openings[first];
    hi = last < openings.size() ? openings[last] : n;
    if (failing != History::kNone) hi = std::max(hi, std::min(n, failing + 1));
  }

  std::vector<Bar> bars;
  std::map<Process, size_t> nemesis_rows;
  std::map<Process, size_t> client_rows;
  for (size_t i : openings) {
    if (i >= hi) break;
    size_t p = history.partner(i);
    bool closed = p != History::kNone && p > i;
    size_t end = closed ? p : n;
    if (end < lo) continue;
    Bar b;
    b.start = i;
    b.end = end;
    b.closed = closed;
    b.cls = ClassFor(history, i);
    (history[i].is_client() ? client_rows : nemesis_rows).emplace(history[i].process, 0);
    bars.push_back(std::move(b));
  }
  size_t row = 0;
  for (auto& [proc, r] : nemesis_rows) r = row++;
  const size_t nemesis_count = row;
  for (auto& [proc, r] : client_rows) r = row++;
  auto row_y = [&](size_t r) {
    double y = kTop + static_cast<double>(r) * kRow;
    if (nemesis_count > 0 && r >= nemesis_count) y += kBandGap;
    return y;
  };
  for (Bar& b : bars) {
    const Process& proc = history[b.start].process;
    b.row = history[b.start].is_client() ? client_rows[proc] : nemesis_rows[proc];
  }

  const size_t events = std::max<size_t>(hi - lo, 1);
  const double step = std::clamp(1150.0 / static_cast<double>(events), 6.0, 64.0);
  auto x_of = [&](double pos) { return kLeft + (pos - static_cast<double>(lo)) * step; };
  const double right_edge = x_of(static_cast<double>(hi)) + step * 0.5;
  const double width = right_edge + kRight;
  const double height = row_y(row == 0 ? 0 : row - 1) + kRow + 30;

  std::string out;
  out.reserve(4096 + bars.size() * 400);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += fmt::format("<title>{} — {}</title>\n", Esc(options.title), ValidityName(result.validity));
  out += "<style>";
  out += kCss;
  out += "</style>\n</head>\n";
  out += fmt::format("<body data-verdict=\"{}\" data-ops-drawn=\"{}\">\n",
                     ValidityName(result.validity), bars.size());
  out += fmt::format(
      "<header><h1>{} <span class=\"verdict {}\">{}</span></h1>\n<div class=\"stats\">{}{}</div>"
      "</header>\n<main>\n",
      Esc(options.title), ValidityName(result.validity), ValidityName(result.validity),
      Esc(Summary(result)),
      history.source_name().empty() ? "" : " · " + Esc(history.source_name()));

  if (ce != nullptr) {
    out += "<section class=\"card problem\" id=\"counterexample\">\n";
    out += fmt::format(
        "<h2>Op {} cannot be linearized{}</h2>\n<div class=\"why\">{}</div>\n"
        "<div><code>{}</code></div>\n",
        OpIndex(history, ce->failing_op), ce->key.empty() ? "" : " on key " + Esc(ce->key),
        Esc(ce->explanation.empty() ? "no explanation given" : ce->explanation),
        Esc(DescribeWithCompletion(history, ce->failing_op)));
    if (!ce->prefixes.empty()) {
      out += fmt::format(
          "<div>Longest linearizable prefix before it: {} op{} (numbered blue markers below){}"
          "</div>\n",
          ce->prefixes[0].size(), ce->prefixes[0].size() == 1 ? "" : "s",
          ce->prefixes.size() > 1 ? fmt::format("; {} more prefixes of that length in the JSON",
                                                ce->prefixes.size() - 1)
                                  : "");
    }
    if (!ce->states.empty()) {
      out += "<div>Model states reachable just before it:";
      for (const std::string& s : ce->states) {
        out += fmt::format(" <code class=\"state\">{}</code>", Esc(s));
      }
      out += "</div>\n";
    }
    out += "</section>\n";
  } else if (result.validity == Validity::kUnknown) {
    out += fmt::format(
        "<section class=\"card unsure\"><h2>Undecided</h2><div "
        "class=\"why\">{}</div>{}</section>\n",
        Esc(result.unknown_reason.empty() ? "no reason given" : result.unknown_reason),
        result.unknown_keys.empty()
            ? std::string()
            : fmt::format("<div>Undecided keys: <code>{}</code></div>",
                          Esc(fmt::format("{}", fmt::join(result.unknown_keys, ", ")))));
  }

  if (windowed) {
    out += fmt::format(
        "<div class=\"note\" id=\"window-note\">Showing {} of {} ops: history events {} to {} "
        "(op indices {} to {}), a window around {}. The whole history is in the JSON and text "
        "reports.</div>\n",
        bars.size(), openings.size(), lo, hi - 1, OpIndex(history, lo), OpIndex(history, hi - 1),
        failing != History::kNone ? "the failing op" : "the start");
  }
  out +=
      "<div class=\"legend\"><span><i class=\"sw sw-ok\"></i>ok</span>"
      "<span><i class=\"sw sw-fail\"></i>fail (never took effect)</span>"
      "<span><i class=\"sw sw-info\"></i>info / never completed (may take effect until the "
      "end)</span><span><i class=\"sw sw-nem\"></i>nemesis</span>";
  if (ce != nullptr) {
    out +=
        "<span><i class=\"sw sw-bad\"></i>op that cannot be linearized</span>"
        "<span><i class=\"sw sw-lin\"></i>linearization order of the longest prefix</span>";
    if (!ce->key.empty()) {
      out += fmt::format(
          "<span><i class=\"sw sw-ok\" style=\"opacity:.3\"></i>ops on keys other "
          "than {}</span>",
          Esc(ce->key));
    }
  }
  out += "<span class=\"hint\">time runs left to right, in history order</span></div>\n";

  // The timeline: a fixed column of row labels beside a horizontally scrolling drawing.
  out += "<div class=\"timeline\">\n";
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"labels\" width=\"{:.0f}\" "
      "height=\"{:.0f}\">\n",
      kLabels, height);
  if (nemesis_count > 0) {
    out += fmt::format(
        "<rect class=\"band\" x=\"0\" y=\"{:.1f}\" width=\"{:.0f}\" height=\"{:.1f}\"/>\n",
        kTop - 4, kLabels, static_cast<double>(nemesis_count) * kRow);
  }
  out +=
      fmt::format("<text class=\"axistitle\" x=\"12\" y=\"{:.1f}\">op index</text>\n", kTop - 12);
  auto label_row = [&](const Process& proc, size_t r) {
    out += fmt::format("<text class=\"rowlabel\" x=\"12\" y=\"{:.1f}\">{}</text>\n",
                       row_y(r) + kRow / 2 + 4,
                       proc.is_client() ? "process " + proc.ToString() : Esc(proc.ToString()));
  };
  for (const auto& [proc, r] : nemesis_rows) label_row(proc, r);
  for (const auto& [proc, r] : client_rows) label_row(proc, r);
  out += "</svg>\n<div id=\"scroller\">\n";
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" width=\"{:.0f}\" "
      "height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\">\n",
      width, height, width, height);
  out +=
      "<defs><linearGradient id=\"fade\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">"
      "<stop offset=\"0\" stop-color=\"#ffe3b3\"/><stop offset=\"1\" stop-color=\"#ffffff\" "
      "stop-opacity=\"0.4\"/></linearGradient></defs>\n";
  if (nemesis_count > 0) {
    out += fmt::format(
        "<rect class=\"band\" x=\"0\" y=\"{:.1f}\" width=\"{:.0f}\" height=\"{:.1f}\"/>\n",
        kTop - 4, width, static_cast<double>(nemesis_count) * kRow);
  }
  // Axis: a tick every few events, labelled with the op index at that position.
  {
    const double want = 70.0 / step;
    size_t every = 1;
    for (size_t m : {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000}) {
      every = m;
      if (static_cast<double>(m) >= want) break;
    }
    out += "<g class=\"axis\">";
    for (size_t pos = (lo + every - 1) / every * every; pos < hi; pos += every) {
      double x = x_of(static_cast<double>(pos) + 0.5);
      out += fmt::format(
          "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>"
          "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>",
          x, x, kTop - 6, height - 22, x, kTop - 12, OpIndex(history, pos));
    }
    out += "</g>\n";
  }
  // Row guide lines.
  for (size_t r = 0; r < row; ++r) {
    double y = row_y(r) + kRow / 2;
    out += fmt::format(
        "<line class=\"rowline\" x1=\"0\" x2=\"{:.0f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>\n",
        right_edge, y, y);
  }

  // Bars.
  std::map<size_t, const Bar*> bar_at;  // opening position -> bar
  for (const Bar& b : bars) {
    bar_at.emplace(b.start, &b);
    double x0 = x_of(static_cast<double>(std::max(b.start, lo)) + 0.5);
    double x1 = b.closed && b.end < hi ? x_of(static_cast<double>(b.end) + 0.5) : right_edge;
    double w = std::max(x1 - x0, 4.0);
    double y = row_y(b.row) + (kRow - kBar) / 2;
    std::string cls = b.cls;
    if (b.start == failing) cls += " failing";
    // Ops of other keys than the failing one cannot matter to it: draw them faintly.
    if (ce != nullptr && !ce->key.empty() && history[b.start].is_client() &&
        KeyOf(history[b.start]) != ce->key) {
      cls += " other-key";
    }
    std::string desc = DescribeWithCompletion(history, b.start);
    int64_t index = history[b.start].index;
    out += fmt::format(
        "<g class=\"op {}\" data-op-index=\"{}\" data-desc=\"{}\"><title>op {}: {}</title>"
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.0f}\"/>",
        cls, index, Esc(desc), index, Esc(desc), x0, y, w, kBar);
    std::string text = Fit(Label(history, b.start), w);
    if (!text.empty()) {
      out +=
          fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", x0 + 4, y + kBar - 5, Esc(text));
    }
    out += "</g>\n";
  }

  // The failing op: a marker line at its invocation, labelled on the side with room.
  if (failing != History::kNone && bar_at.contains(failing)) {
    const Bar& b = *bar_at[failing];
    double x = x_of(static_cast<double>(b.start) + 0.5);
    double y = row_y(b.row);
    bool left = x + 170 > right_edge;
    out += fmt::format(
        "<g class=\"failmark\"><line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\">\u2717 cannot be "
        "linearized</text></g>\n",
        x, x, kTop - 4, height - 22, left ? x - 4 : x + 4, y + kRow + 11, left ? "end" : "start");
  }

  // The longest prefix as numbered markers joined by a line. Any non-decreasing choice of points
  // with each point inside its op's interval is a valid picture of the order: compute the earliest
  // (forward) and latest (backward) points allowed, then put each marker as near the middle of its
  // bar as they permit, so that it does not cover the bar's label.
  if (ce != nullptr && !ce->prefixes.empty()) {
    const std::vector<size_t>& prefix = ce->prefixes[0];
    const size_t k_count = prefix.size();
    std::vector<double> start(k_count);
    std::vector<double> end(k_count);
    for (size_t k = 0; k < k_count; ++k) {
      size_t pos = std::min(prefix[k], n);
      size_t done = pos < n ? history.partner(pos) : History::kNone;
      start[k] = static_cast<double>(pos) + 0.5;
      end[k] = done != History::kNone && done > pos ? static_cast<double>(done) + 0.5
                                                    : static_cast<double>(n);
    }
    std::vector<double> earliest(k_count);
    std::vector<double> latest(k_count);
    for (size_t k = 0; k < k_count; ++k) {
      earliest[k] = std::max(start[k], k > 0 ? earliest[k - 1] : start[k]);
    }
    for (size_t k = k_count; k-- > 0;) {
      latest[k] = std::min(end[k], k + 1 < k_count ? latest[k + 1] : end[k]);
    }
    std::string marks;
    std::string points;
    double last = -1;
    for (size_t k = 0; k < k_count; ++k) {
      double lo_k = std::max(earliest[k], last);
      double hi_k = std::max(lo_k, latest[k]);
      double at = std::clamp((start[k] + end[k]) / 2, lo_k, hi_k);
      last = at;
      auto it = bar_at.find(prefix[k]);
      if (it == bar_at.end() || at < static_cast<double>(lo) || at > static_cast<double>(hi)) {
        continue;
      }
      double x = std::min(x_of(at), right_edge - 8);
      double y = row_y(it->second->row) + (kRow - kBar) / 2;  // on the bar's top edge
      points += fmt::format("{:.1f},{:.1f} ", x, y);
      marks += fmt::format(
          "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"8\"/><text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>",
          x, y, x, y + 3.5, k + 1);
    }
    out += fmt::format("<g class=\"lin\"><polyline points=\"{}\"/>{}</g>\n", points, marks);
  }
  if (bars.empty()) {
    out += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" class=\"rowlabel\">no ops</text>\n", kLeft,
                       kTop + 16);
  }
  out +=
      "</svg>\n</div>\n</div>\n<div id=\"details\">Hover over or click an op for its "
      "details.</div>\n";
  out += "</main>\n<script>";
  out += kScript;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace faultline::checker
