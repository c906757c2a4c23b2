// Healing the ledger objects of clock faults (nemesis/clock.h): used by HealEntry. Not part of
// the public API.
//
// Thread-safety: thread-safe.
#ifndef FAULTLINE_NEMESIS_INTERNAL_CLOCK_HEAL_H_
#define FAULTLINE_NEMESIS_INTERNAL_CLOCK_HEAL_H_

#include <string>

#include "common/result.h"
#include "nemesis/ledger.h"
#include "nemesis/node_control.h"

namespace faultline::nemesis::internal {

// "clock-file", "clock-settime" or "clock-strobe-loop".
bool IsClockObject(const LedgerObject& o);

// Undoes one: a timestamp file gets "+0"; a strobe loop on an SSH node ends; an SSH node's clock
// is set to its boot-time reference + uptime and its NTP services start again (these need
// `control`). Says what was done; an error when the clock may still be off.
Result<std::string> HealClockObject(const LedgerObject& o, NodeControl* control);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_CLOCK_HEAL_H_
