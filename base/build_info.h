#ifndef CANOPY_BASE_BUILD_INFO_H_
#define CANOPY_BASE_BUILD_INFO_H_

#include <string>

namespace canopy {

// What was built: the project's version (CMakeLists.txt) and the git commit
// it was built from ("unknown" outside a repository unless CANOPY_COMMIT was
// set). Every binary answers --version with VersionLine (program.h), and
// servers export both as canopy_build_info{version,commit} in /metrics.
const char* BuildVersion();
const char* BuildCommit();

// "NAME VERSION (commit COMMIT)", what --version prints.
std::string VersionLine(const std::string& program);

}  // namespace canopy

#endif  // CANOPY_BASE_BUILD_INFO_H_
