// AuditStore: the organization's audit log (AuditEvent rows, written in the same transaction
// as the change they record by the other stores' methods). Part of store::Database
// (store/store.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "store/page.h"

namespace cl::store {

struct AuditEvent {
  std::string id;
  std::string org_id;
  std::string actor_kind;  // "user", "api_token", "federated", "system"
  std::string actor_id;
  std::string actor_name;
  std::string action;  // e.g. "organization.created", "invitation.created"
  std::string target_kind;
  std::string target_id;
  std::string message;  // human-readable, no secrets
  UnixMillis created_at = 0;
  // Address of the client whose request caused the event (behind trusted proxies, the forwarded
  // client's). "" (stored as NULL) for background jobs and events from before it was recorded.
  std::string client_address;
};

// Which audit events of an organization a listing returns; every set field must match (AND).
struct AuditEventFilter {
  std::string org_id;
  std::optional<std::string> action;     // AuditEvent::action equals
  std::optional<std::string> actor;      // actor_id or actor_name equals
  std::optional<std::string> target_id;  // target_id equals
  std::optional<UnixMillis> since;       // created_at >= since
  std::optional<UnixMillis> until;       // created_at < until
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  virtual Status AppendAuditEvent(const AuditEvent& e) = 0;
  // Newest first, at most `limit` (no filter: the first page of the listing below).
  virtual Result<std::vector<AuditEvent>> ListAuditEvents(const std::string& org_id, int limit) = 0;
  // One page, newest first (created_at descending, then id descending; key {created_at, id}).
  virtual Result<Page<AuditEvent, TimeKey>> ListAuditEvents(const AuditEventFilter& filter,
                                                            const PageRequest<TimeKey>& page) = 0;
};

}  // namespace cl::store
