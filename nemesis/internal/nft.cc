#include "nemesis/internal/nft.h"

#include <fmt/format.h>
#include <nftables/libnftables.h>

#include <optional>

namespace faultline::nemesis::internal {

void NftContext::Deleter::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

Result<NftContext> NftContext::Create() {
  std::unique_ptr<nft_ctx, Deleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return MakeError(ErrorCode::kUnavailable, "libnftables: cannot create a context");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return MakeError(ErrorCode::kInternal, "libnftables: cannot buffer output");
  }
  return NftContext(std::move(ctx));
}

Result<NftContext*> ThreadNftContext() {
  thread_local std::optional<NftContext> ctx;
  if (!ctx) {
    FAULTLINE_ASSIGN_OR_RETURN(NftContext made, NftContext::Create());
    ctx.emplace(std::move(made));
  }
  return &*ctx;
}

Result<std::string> NftContext::Run(std::string_view script) {
  const std::string buf(script);
  const int rc = nft_run_cmd_from_buffer(ctx_.get(), buf.c_str());
  std::string out = nft_ctx_get_output_buffer(ctx_.get());
  std::string err = nft_ctx_get_error_buffer(ctx_.get());
  if (rc == 0) return out;
  // nft prints the failing line and a caret line after "Error: ..."; keep the first line.
  const auto nl = err.find('\n');
  std::string first = err.substr(0, nl);
  ErrorCode code = ErrorCode::kUnavailable;
  if (err.find("No such file or directory") != std::string::npos) {
    code = ErrorCode::kNotFound;
  } else if (err.find("Operation not permitted") != std::string::npos) {
    code = ErrorCode::kPermissionDenied;
    first += " (run as root or grant CAP_NET_ADMIN)";
  } else if (err.find("syntax error") != std::string::npos) {
    code = ErrorCode::kInternal;
  }
  return MakeError(code, fmt::format("nft: {}", first.empty() ? "failed" : first));
}

}  // namespace faultline::nemesis::internal
