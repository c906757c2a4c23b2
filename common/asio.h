// The one include of Boost.Asio for the project (STYLE §26): Boost 1.74's coroutine header uses
// std::exchange without including <utility>. It sits in common/ so that every module (nemesis/'s
// proxies as well as client/) reaches it; client/asio.h forwards here.
#ifndef FAULTLINE_COMMON_ASIO_H_
#define FAULTLINE_COMMON_ASIO_H_

// clang-format off
#include <utility>
#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
// clang-format on

#endif  // FAULTLINE_COMMON_ASIO_H_
