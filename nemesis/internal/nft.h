// A small RAII wrapper over a libnftables context. Not part of the public API.
//
// Thread-safety: an NftContext belongs to one thread, and must be created and used on a thread
// that is in the target network namespace: libnftables opens (and may reopen) its netlink socket
// in the namespace of the thread that runs the command.
#ifndef FAULTLINE_NEMESIS_INTERNAL_NFT_H_
#define FAULTLINE_NEMESIS_INTERNAL_NFT_H_

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

struct nft_ctx;

namespace faultline::nemesis::internal {

class NftContext {
 public:
  [[nodiscard]] static Result<NftContext> Create();

  // Runs an nft script as one transaction; returns its output. Errors carry nft's message, with
  // kNotFound when the kernel said "No such file or directory" (a missing table, for example).
  [[nodiscard]] Result<std::string> Run(std::string_view script);

 private:
  struct Deleter {
    void operator()(nft_ctx* ctx) const;
  };
  explicit NftContext(std::unique_ptr<nft_ctx, Deleter> ctx) : ctx_(std::move(ctx)) {}
  std::unique_ptr<nft_ctx, Deleter> ctx_;
};

// The calling thread's own context, made on first use and freed when the thread ends. Meant for
// NodeWorkers threads, which stay in one namespace: making a context reads several files.
[[nodiscard]] Result<NftContext*> ThreadNftContext();

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_NFT_H_
