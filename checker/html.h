// The HTML pieces every faultline page shares (the counterexample page of `check --html` in
// checker/report.h, and the run report of report/): escaping, the stylesheet of the page frame
// (header, verdict badges, cards, legends, notes) and the outcome colours, so a person sees the
// same colours for ok / fail / info / invalid on every page.
//
// Thread-safety: pure functions and constants.
#ifndef FAULTLINE_CHECKER_HTML_H_
#define FAULTLINE_CHECKER_HTML_H_

#include <string>
#include <string_view>

namespace faultline::checker::html {

// Appends `s` with & < > " ' escaped (safe in text and in double- or single-quoted attributes).
void AppendEscaped(std::string& out, std::string_view s);
std::string Esc(std::string_view s);

// The page frame's CSS: variables --ok --okf --fail --info --bad --badf --nem --nemf --lin --ink,
// body, header, h1 .verdict.{valid,invalid,unknown}, .stats, main, .card(.problem,.unsure), .note,
// .legend, .sw swatches (.sw-ok .sw-fail .sw-info .sw-bad .sw-nem .sw-lin), .mono.
extern const char kFrameCss[];

// "<!DOCTYPE html>...<head>" with charset, title and a Content-Security-Policy that forbids every
// request (scripts and styles inline only, images from data: only), then the frame CSS and
// `extra_css`; ends after "</head>\n".
std::string PageHead(std::string_view title, std::string_view extra_css);

}  // namespace faultline::checker::html

#endif  // FAULTLINE_CHECKER_HTML_H_
