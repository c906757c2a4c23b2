#include "dirt/internal/os.h"

#include <fstream>
#include <sstream>

namespace faultline::dirt::internal {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace faultline::dirt::internal
