// Healing a ledger object of type "toxic" (nemesis/ledger.h, nemesis/proxy_faults.h): used by
// HealEntry. Not part of the public API.
//
// Thread-safety: thread-safe.
#ifndef FAULTLINE_NEMESIS_INTERNAL_TOXIC_HEAL_H_
#define FAULTLINE_NEMESIS_INTERNAL_TOXIC_HEAL_H_

#include <string>

#include "common/result.h"
#include "nemesis/ledger.h"

namespace faultline::nemesis::internal {

// Removes the toxic `o` names, wherever its proxy lives, and says what was done ("removed",
// "already gone", "its host process pid N is gone: the proxy and its toxics died with it"). An
// error when the toxic may still be in place (its proxy could not be reached).
Result<std::string> HealToxicObject(const LedgerObject& o);

}  // namespace faultline::nemesis::internal

#endif  // FAULTLINE_NEMESIS_INTERNAL_TOXIC_HEAL_H_
