// The one include of Boost.Asio for the project (STYLE §26): Boost 1.74's coroutine header uses
// std::exchange without including <utility>.
#ifndef FAULTLINE_CLIENT_ASIO_H_
#define FAULTLINE_CLIENT_ASIO_H_

// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
// clang-format on

#endif  // FAULTLINE_CLIENT_ASIO_H_
