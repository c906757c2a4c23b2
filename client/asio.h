// The project's Asio include lives in common/asio.h (so nemesis/ reaches it too); kept for the
// modules that include it by this name.
#ifndef FAULTLINE_CLIENT_ASIO_H_
#define FAULTLINE_CLIENT_ASIO_H_

#include "common/asio.h"

#endif  // FAULTLINE_CLIENT_ASIO_H_
