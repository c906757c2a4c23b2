#include "checker/html.h"

#include <fmt/format.h>

#include "common/junit.h"

namespace faultline::checker::html {

void AppendEscaped(std::string& out, std::string_view s) { AppendXmlEscaped(out, s); }

std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  AppendEscaped(out, s);
  return out;
}

const char kFrameCss[] = R"css(
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
)css";

std::string PageHead(std::string_view title, std::string_view extra_css) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n";
  out += fmt::format("<title>{}</title>\n<style>", Esc(title));
  out += kFrameCss;
  out += extra_css;
  out += "</style>\n</head>\n";
  return out;
}

}  // namespace faultline::checker::html
