#include "base/build_info.h"

#include "canopy_build_info.inc"

namespace canopy {

const char* BuildVersion() { return CANOPY_VERSION; }
const char* BuildCommit() { return CANOPY_COMMIT; }

std::string VersionLine(const std::string& program) {
  return program + " " + BuildVersion() + " (commit " + BuildCommit() + ")";
}

}  // namespace canopy
