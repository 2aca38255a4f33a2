// The version of this build: the release it belongs to and the commit it was built from, for
// `--version`, /v1/version and the chainloop_build_info metric.
#pragma once

#include <string_view>

namespace cl {

// The release version, e.g. "0.9.0" (CMake's project version).
std::string_view Version();
// The abbreviated commit hash of the source tree, "-dirty" appended when it had uncommitted
// changes to tracked files; "unknown" outside a git checkout.
std::string_view Commit();

}  // namespace cl
