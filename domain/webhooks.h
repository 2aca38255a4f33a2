// WebhookService: an organization's signed event webhooks as its owners and admins manage them
// (create, list, describe, delete, the delivery log, ping) and the rules a webhook must satisfy
// (its URL, its events). Sending is jobs/webhook_dispatcher's job; enqueueing audit-backed
// events is the store's (store/webhook_store.h), in the audit event's transaction.
//
// Management is for people only, with webhook:manage (owners and admins), never for tokens:
// a webhook receives every subscribed event of the organization, and its URL may carry secrets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/result.h"
#include "crypto/secret_box.h"
#include "domain/authorization.h"
#include "domain/organizations.h"
#include "domain/principal.h"
#include "store/store.h"
#include "store/webhook_events.h"

namespace cl::domain {

inline constexpr std::string_view kWebhookSecretPrefix = "clwhsec_";
inline constexpr size_t kMaxWebhookUrlLength = 2048;
inline constexpr size_t kMaxWebhookDescriptionLength = 1024;
// Webhooks per organization: each audited event fans out to every subscribed one.
inline constexpr int kMaxWebhooksPerOrganization = 25;

// A webhook URL as audit events and messages show it: scheme, host and port only, the path and
// query elided ("https://hooks.example.com/…"), since receivers often put a secret there (chat
// services' incoming-webhook URLs do) and the audit log is readable by every member.
std::string WebhookUrlForDisplay(std::string_view url);

// OK when `url` may be registered: http or https (any case), a host, no user name or password,
// no fragment, at most kMaxWebhookUrlLength characters of printable ASCII, a port (when given)
// within 1..65535, and, when the host is a literal IP address (IPv4 in any form inet_aton reads,
// or a bracketed IPv6 address), one that IsRefusedWebhookAddress does not refuse or that lies in
// `allowed`. Host names are not resolved here: the dispatcher's guard checks each address it
// connects to. InvalidArgument with a message naming the rule otherwise.
Status ValidateWebhookUrl(std::string_view url, const std::vector<Cidr>& allowed);

// Whether deliveries to `address` (an IP address as text) are refused unless the operator allows
// its network: loopback, unspecified, "this network" 0/8, private (10/8, 172.16/12,
// 192.168/16, fc00::/7, fec0::/10), CGNAT (100.64/10), link-local, multicast, reserved and
// broadcast (240/4), IPv4-compatible ::/96, and the IPv4-mapped form of each IPv4 one: the same
// classes the dispatcher's connect-time guard refuses. Text that is not an address is refused.
bool IsRefusedWebhookAddress(std::string_view address);

// The events of a subscription as stored: every name known and subscribable, duplicates removed,
// sorted. InvalidArgument for an empty list, an unknown name (the message lists the valid ones)
// or "ping".
Result<std::vector<std::string>> NormalizeWebhookEvents(const std::vector<std::string>& events);

// The events a webhook may subscribe to, in the catalogue's order.
std::vector<store::WebhookEventKind> SubscribableWebhookEvents();

struct CreateWebhookRequest {
  std::string url;
  std::vector<std::string> events;
  std::string description;  // may be empty
};

struct CreatedWebhook {
  store::Webhook webhook;
  std::string secret;  // `clwhsec_...`: shown once, never stored in the clear
};

class WebhookService {
 public:
  // REQUIRES: every reference outlives the service. `allowed_networks`: the operator's
  // webhook_allowed_networks, where literal addresses that would otherwise be refused are
  // accepted (the dispatcher applies the same list when it connects).
  WebhookService(store::WebhookStore& webhooks, Authorizer& authz, OrganizationService& orgs,
                 const crypto::SecretBox& secrets, const Clock& clock, Random& random,
                 std::vector<Cidr> allowed_networks)
      : webhooks_(webhooks),
        authz_(authz),
        orgs_(orgs),
        secrets_(secrets),
        clock_(clock),
        random_(random),
        allowed_networks_(std::move(allowed_networks)) {}

  // People only, with webhook:manage. Validates the URL (ValidateWebhookUrl), the events
  // (NormalizeWebhookEvents) and the description (printable, at most 1024 characters), draws a
  // secret, stores it sealed. Audited (webhook.created). AlreadyExists when the organization
  // already has a webhook with this exact URL.
  Result<CreatedWebhook> Create(const Principal& p, const std::string& org,
                                const CreateWebhookRequest& req);
  // People only, with webhook:manage: one page, newest first.
  Result<store::Page<store::Webhook, store::TimeKey>> List(
      const Principal& p, const std::string& org, const store::PageRequest<store::TimeKey>& page);
  // People only, with webhook:manage. NotFound for an id unknown in the organization.
  Result<store::Webhook> Get(const Principal& p, const std::string& org, const std::string& id);
  // People only, with webhook:manage; the delivery log goes with it. Audited (webhook.deleted).
  Status Delete(const Principal& p, const std::string& org, const std::string& id);
  // People only, with webhook:manage: the webhook's delivery log, newest first.
  Result<store::Page<store::WebhookDelivery, store::TimeKey>> Deliveries(
      const Principal& p, const std::string& org, const std::string& id,
      const store::PageRequest<store::TimeKey>& page);
  // People only, with webhook:manage: enqueues a "ping" event for this webhook only (whatever
  // it subscribes to), data {"message":"ping from chainloop"}. Returns the event id.
  Result<std::string> Ping(const Principal& p, const std::string& org, const std::string& id);

 private:
  // The organization, after the checks every operation shares (people only, webhook:manage).
  Result<store::Organization> Manage(const Principal& p, const std::string& org);

  store::WebhookStore& webhooks_;
  Authorizer& authz_;
  OrganizationService& orgs_;
  const crypto::SecretBox& secrets_;
  const Clock& clock_;
  Random& random_;
  const std::vector<Cidr> allowed_networks_;
};

}  // namespace cl::domain
