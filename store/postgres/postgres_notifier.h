// The PostgreSQL RevocationNotifier: NOTIFY/LISTEN on the channel "chainloop_revocations".
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "store/notifications.h"

namespace cl::store {

// The channel every instance listens on; the payload is the ended credential's hash. The
// database's triggers (store/migrations/0008_revocation_announcements.sql) send on it.
inline constexpr const char* kRevocationChannel = "chainloop_revocations";
// Each instance's heartbeat to itself: "<instance nonce>:<steady send time in ns>".
inline constexpr const char* kHeartbeatChannel = "chainloop_heartbeats";
// Failed-authentication bans decided by one instance, for all: the ban key.
inline constexpr const char* kBanChannel = "chainloop_bans";

// Connects once to `url` (publishing, heartbeats) and once to options.listen_url when set, to
// check them: Unavailable when the server cannot be reached. The listener connection is opened
// by the first Subscribe.
Result<std::unique_ptr<RevocationNotifier>> OpenPostgresRevocationNotifier(
    const std::string& url, const NotifierOptions& options);

}  // namespace cl::store
