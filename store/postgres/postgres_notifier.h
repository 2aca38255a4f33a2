// The PostgreSQL RevocationNotifier: NOTIFY/LISTEN on the channel "chainloop_revocations".
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/notifications.h"

namespace cl::store {

// The channel every instance listens on; the payload is the revoked token's hash.
inline constexpr const char* kRevocationChannel = "chainloop_revocations";

// Connects once (for publishing) to check the URL: Unavailable when the server cannot be
// reached. The listener connection is opened by the first Subscribe.
Result<std::unique_ptr<RevocationNotifier>> OpenPostgresRevocationNotifier(const std::string& url);

}  // namespace cl::store
