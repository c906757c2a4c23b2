#include "client/client.h"

// Placeholder: the etcd client (issue 5) goes here.
namespace faultline::client {}
