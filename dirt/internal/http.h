// The drill's names for the project's one HTTP client (cluster/http.h), kept so that dirt/drill.cc
// reads as before; new code uses cluster::HttpClient directly. Not part of the public API.
#ifndef FAULTLINE_DIRT_INTERNAL_HTTP_H_
#define FAULTLINE_DIRT_INTERNAL_HTTP_H_

#include "cluster/http.h"

namespace faultline::dirt::internal {

using HttpConnection = cluster::HttpClient;
using HttpResponse = cluster::HttpResponse;

}  // namespace faultline::dirt::internal

#endif  // FAULTLINE_DIRT_INTERNAL_HTTP_H_
