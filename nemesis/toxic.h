// Toxics: the faults a Proxy injects into the TCP streams it forwards, named and shaped as in
// Toxiproxy (type, stream, toxicity, attributes with Toxiproxy's attribute names), plus
// faultline's HTTP/1.1 request-level types. The attribute table (name, kind, default, unit) is
// written once, in toxic.cc, and both validation and the control API's JSON use it.
//
// TCP types act on a stream: upstream = client -> server, downstream = server -> client. Their
// toxicity is the share of connections a toxic applies to (drawn once per connection and toxic).
// HTTP types act on each request of a keep-alive connection whichever stream they are filed under;
// their toxicity is the share of matching requests (drawn per request), as FIT needs.
//
// Thread-safety: plain values.
#ifndef FAULTLINE_NEMESIS_TOXIC_H_
#define FAULTLINE_NEMESIS_TOXIC_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.h"

namespace faultline::nemesis {

enum class ToxicStream { kUpstream, kDownstream };
std::string_view ToxicStreamName(ToxicStream stream);
Result<ToxicStream> ParseToxicStream(std::string_view text);

enum class ToxicType {
  kLatency,       // latency, jitter (ms) before each chunk
  kBandwidth,     // rate (KB/s, 1 KB = 1000 bytes)
  kSlowClose,     // delay (ms) before a close is passed on
  kTimeout,       // timeout (ms): data dropped, connection closed after it; 0 = stall forever
  kResetPeer,     // timeout (ms), then the client's connection is reset (RST)
  kSlicer,        // average_size, size_variation (bytes), delay (µs) between slices
  kLimitData,     // bytes: the connection is closed once that many passed on the stream
  kHttpStatus,    // status, body: reply instead of forwarding the request
  kHttpDelay,     // delay (ms) before the request is forwarded
  kHttpDrop,      // close the connection without a reply
  kHttpTruncate,  // bytes of the reply's body kept, then the connection is closed
};
std::string_view ToxicTypeName(ToxicType type);
Result<ToxicType> ParseToxicType(std::string_view text);
bool IsHttpToxic(ToxicType type);

using ToxicValue = std::variant<std::int64_t, std::string>;
using ToxicAttributes = std::map<std::string, ToxicValue, std::less<>>;

// One attribute of a toxic type: its name, whether it holds a string, its default.
struct ToxicAttributeSpec {
  std::string_view name;
  bool is_string = false;
  std::int64_t default_number = 0;
  std::string_view default_string;
  std::string_view help;
};
// The attributes a type takes, in the order they are printed. HTTP types also take the scope:
// method (exact, empty = any), path (a glob with * and ?, empty = any), header and header_value
// (the request must carry the header; empty header_value = any value).
std::span<const ToxicAttributeSpec> ToxicAttributeSpecs(ToxicType type);

struct Toxic {
  std::string name;  // empty: "<type>_<stream>" as Toxiproxy names it
  ToxicType type = ToxicType::kLatency;
  ToxicStream stream = ToxicStream::kDownstream;
  double toxicity = 1.0;
  ToxicAttributes attributes;

  bool operator==(const Toxic&) const = default;
};

// Completes a toxic: default name, every attribute of its type present (defaults filled), values
// checked (numbers >= 0, status 100-599, toxicity 0-1). An unknown attribute or a wrong kind is
// InvalidArgument naming the field, e.g. "toxic latency_downstream: attributes.latncy: unknown
// attribute of latency (latency, jitter)".
Result<Toxic> NormalizeToxic(Toxic toxic);

// Accessors for a normalized toxic (REQUIRES: the attribute exists with that kind).
std::int64_t NumberAttribute(const Toxic& toxic, std::string_view name);
const std::string& StringAttribute(const Toxic& toxic, std::string_view name);

}  // namespace faultline::nemesis

#endif  // FAULTLINE_NEMESIS_TOXIC_H_
