#include "dirt/internal/system_probe.h"

#include <fmt/format.h>

#include <boost/asio/use_future.hpp>
#include <exception>
#include <future>

namespace faultline::dirt::internal {

using history::Op;
using history::OpType;
using history::Process;
using history::Value;

Result<std::unique_ptr<SystemProbe>> SystemProbe::Make(systems::System& system,
                                                       const systems::SystemCluster& nodes,
                                                       nemesis::NodeControl& shell,
                                                       std::chrono::milliseconds timeout) {
  systems::ClientSetup setup;
  setup.workload = "register";
  setup.read_mode = "linearizable";
  setup.timeout = timeout;
  setup.key_prefix = "faultline/dirt/";
  FAULTLINE_ASSIGN_OR_RETURN(std::unique_ptr<client::ClientFactory> factory,
                             system.Clients(nodes, setup));
  return std::unique_ptr<SystemProbe>(new SystemProbe(system, nodes, shell, std::move(factory)));
}

SystemProbe::SystemProbe(systems::System& system, const systems::SystemCluster& nodes,
                         nemesis::NodeControl& shell,
                         std::unique_ptr<client::ClientFactory> factory)
    : system_(system),
      nodes_(nodes),
      shell_(shell),
      io_(std::make_unique<boost::asio::io_context>()),
      factory_(std::move(factory)),
      clients_(nodes.nodes.size()),
      generation_(nodes.nodes.size(), 0) {}

SystemProbe::~SystemProbe() {
  for (auto& c : clients_) {
    if (c) c->Close();
  }
  clients_.clear();
  // Lets any handler the closes queued finish before the clients' io_context goes.
  io_->restart();
  io_->poll();
}

Status SystemProbe::Healthy(size_t i) { return system_.NodeReady(nodes_, i, shell_); }

Result<client::Completion> SystemProbe::Invoke(size_t i, Op op) {
  const auto n = static_cast<std::int64_t>(clients_.size());
  // The factory picks the node as process number modulo the node count.
  op.process = Process::Client(static_cast<std::int64_t>(i) + n * generation_[i]);
  if (!clients_[i]) {
    FAULTLINE_ASSIGN_OR_RETURN(clients_[i], factory_->Open(op.process, *io_));
  }
  std::future<client::Completion> done =
      boost::asio::co_spawn(*io_, clients_[i]->Invoke(op), boost::asio::use_future);
  io_->restart();
  // A client always completes, its own timeout included (client/client.h).
  io_->run();
  client::Completion c;
  try {
    c = done.get();
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: client: {}", nodes_.nodes[i].name, e.what()));
  }
  if (c.op.type == OpType::kInfo) {
    // A client whose op ended info is discarded (client/client.h).
    clients_[i]->Close();
    clients_[i].reset();
    ++generation_[i];
  }
  return c;
}

namespace {

std::string Why(const client::Completion& c) {
  std::string why = std::string(history::OpTypeName(c.op.type));
  if (c.op.error) why += ": " + c.op.error->ToEdn();
  return why;
}

}  // namespace

Status SystemProbe::Write(size_t i, std::int64_t key, std::int64_t value) {
  Op op;
  op.f = "write";
  op.key = Value::Int(key);
  op.value = Value::Int(value);
  FAULTLINE_ASSIGN_OR_RETURN(client::Completion c, Invoke(i, std::move(op)));
  if (c.op.type == OpType::kOk) return OkStatus();
  return MakeError(ErrorCode::kUnavailable,
                   fmt::format("{}: write {}: {}", nodes_.nodes[i].name, value, Why(c)));
}

Result<std::optional<std::int64_t>> SystemProbe::Read(size_t i, std::int64_t key) {
  Op op;
  op.f = "read";
  op.key = Value::Int(key);
  FAULTLINE_ASSIGN_OR_RETURN(client::Completion c, Invoke(i, std::move(op)));
  if (c.op.type != OpType::kOk) {
    return MakeError(ErrorCode::kUnavailable,
                     fmt::format("{}: read: {}", nodes_.nodes[i].name, Why(c)));
  }
  if (c.op.value.is_nil()) return std::optional<std::int64_t>();
  if (!c.op.value.is_int()) {
    return MakeError(
        ErrorCode::kUnavailable,
        fmt::format("{}: read: not an integer: {}", nodes_.nodes[i].name, c.op.value.ToEdn()));
  }
  return std::optional<std::int64_t>(c.op.value.as_int());
}

}  // namespace faultline::dirt::internal
