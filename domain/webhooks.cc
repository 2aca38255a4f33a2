// WebhookService and the rules of a webhook's URL and events; see the header.
#include "domain/webhooks.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "common/printable.h"
#include "crypto/hash.h"
#include "domain/audit_events.h"

namespace cl::domain {
namespace {

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

Error BadUrl(std::string why) { return Error::InvalidArgument("url " + why); }

// The IP address a host of a URL stands for without a DNS lookup, as canonical text: a
// bracketed IPv6 literal, or IPv4 in any spelling the resolver takes as a number ("127.1",
// "0x7f.0.0.1", "2130706433"). nullopt for a host name. `invalid` is set for a bracketed host
// that is not an IPv6 address.
std::optional<std::string> LiteralAddress(std::string_view host, bool& invalid) {
  invalid = false;
  if (host.front() == '[') {
    auto canonical = CanonicalAddress(host.substr(1, host.size() - 2));
    if (!canonical) invalid = true;
    return canonical;
  }
  std::string text(host);
  if (!text.empty() && text.back() == '.') text.pop_back();  // "10.0.0.1." resolves the same
  in_addr v4{};
  if (text.empty() || inet_aton(text.c_str(), &v4) == 0) return std::nullopt;
  char buf[INET_ADDRSTRLEN];
  if (inet_ntop(AF_INET, &v4, buf, sizeof buf) == nullptr) return std::nullopt;
  return std::string(buf);
}

std::string ValidEventNames() {
  std::string out;
  for (const auto& e : SubscribableWebhookEvents()) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

}  // namespace

std::string WebhookUrlForDisplay(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "(a webhook URL)";
  size_t end = url.find_first_of("/?#", scheme + 3);
  std::string shown(url.substr(0, std::min<size_t>(end, 256)));
  if (end != std::string_view::npos && end + 1 < url.size()) shown += "/…";
  return shown;
}

// One rule for registration and delivery: the outbound guard's (common/address.h).
bool IsRefusedWebhookAddress(std::string_view address) { return IsNonPublicAddress(address); }

Status ValidateWebhookUrl(std::string_view url, const std::vector<Cidr>& allowed) {
  if (url.size() > kMaxWebhookUrlLength) {
    return Fail(BadUrl("must be at most " + std::to_string(kMaxWebhookUrlLength) + " characters"));
  }
  if (url.empty()) return Fail(BadUrl("is required"));
  for (char c : url) {
    if (c <= 0x20 || c >= 0x7f) {
      return Fail(
          BadUrl("must be printable ASCII without spaces (percent-encode other characters)"));
    }
  }
  size_t scheme_end;
  if (StartsWithIgnoreCase(url, "https://")) {
    scheme_end = 8;
  } else if (StartsWithIgnoreCase(url, "http://")) {
    scheme_end = 7;
  } else {
    return Fail(BadUrl("must start with http:// or https://"));
  }
  if (url.find('#') != std::string_view::npos) {
    return Fail(BadUrl("must not contain a fragment ('#...'): it is never sent to the server"));
  }
  std::string_view rest = url.substr(scheme_end);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.find('@') != std::string_view::npos) {
    return Fail(BadUrl("must not contain a user name or password (user:password@)"));
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Fail(BadUrl("has an unclosed '[' in its host"));
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Fail(BadUrl("has characters after its IPv6 address"));
      port = after.substr(1);
    }
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return Fail(BadUrl("must name a host"));
  if (authority.size() > host.size()) {  // a ':' follows the host
    int number = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number < 1 ||
        number > 65535) {
      return Fail(BadUrl("has an invalid port (1 to 65535)"));
    }
  }
  bool invalid = false;
  auto address = LiteralAddress(host, invalid);
  if (invalid) return Fail(BadUrl("has a bracketed host that is not an IPv6 address"));
  if (address && IsRefusedWebhookAddress(*address) &&
      !std::any_of(allowed.begin(), allowed.end(),
                   [&](const Cidr& c) { return c.Contains(*address); })) {
    return Fail(BadUrl("points to " + *address +
                       ", a loopback, private, link-local or otherwise non-public address: "
                       "webhooks are only sent to public addresses unless the operator allows "
                       "the network (webhook_allowed_networks)"));
  }
  return Ok();
}

std::vector<store::WebhookEventKind> SubscribableWebhookEvents() {
  std::vector<store::WebhookEventKind> out;
  for (const auto& e : store::AllWebhookEvents()) {
    if (e.subscribable) out.push_back(e);
  }
  return out;
}

Result<std::vector<std::string>> NormalizeWebhookEvents(const std::vector<std::string>& events) {
  if (events.empty()) {
    return Fail(Error::InvalidArgument("events must name at least one event; valid events: " +
                                       ValidEventNames()));
  }
  std::vector<std::string> out;
  for (const auto& name : events) {
    auto kind = store::FindWebhookEvent(name);
    if (!kind) {
      return Fail(Error::InvalidArgument("unknown event '" + name.substr(0, 64) +
                                         "'; valid events: " + ValidEventNames()));
    }
    if (!kind->subscribable) {
      return Fail(Error::InvalidArgument(
          "the event '" + name +
          "' cannot be subscribed to: it is sent on request to one webhook (POST "
          ".../webhooks/{id}/ping)"));
    }
    out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<store::Organization> WebhookService::Manage(const Principal& p, const std::string& org) {
  if (p.kind != Principal::Kind::kUser) {
    return Fail(Error::PermissionDenied("webhooks are managed by people, not tokens"));
  }
  CL_ASSIGN_OR_RETURN(auto o, orgs_.Resolve(p, org));
  CL_RETURN_IF_ERROR(authz_.Authorize(p, perm::kWebhookManage, Resource{o.id, std::nullopt}));
  return o;
}

Result<CreatedWebhook> WebhookService::Create(const Principal& p, const std::string& org_name,
                                              const CreateWebhookRequest& req) {
  CL_ASSIGN_OR_RETURN(auto org, Manage(p, org_name));
  CL_RETURN_IF_ERROR(ValidateWebhookUrl(req.url, allowed_networks_));
  // A bound on the fan-out; two creations racing may pass it by one each, which is harmless.
  CL_ASSIGN_OR_RETURN(auto existing,
                      webhooks_.ListWebhooks(org.id, {.limit = kMaxWebhooksPerOrganization}));
  if (existing.items.size() >= static_cast<size_t>(kMaxWebhooksPerOrganization)) {
    return Fail(Error::FailedPrecondition(
        "an organization has at most " + std::to_string(kMaxWebhooksPerOrganization) +
        " webhooks: delete one first, or subscribe an existing one to more events"));
  }
  CL_ASSIGN_OR_RETURN(auto events, NormalizeWebhookEvents(req.events));
  if (req.description.size() > kMaxWebhookDescriptionLength) {
    return Fail(Error::InvalidArgument("description must be at most " +
                                       std::to_string(kMaxWebhookDescriptionLength) +
                                       " characters"));
  }
  // Descriptions are printed on other people's terminals and pages (webhook list).
  CL_RETURN_IF_ERROR(CheckPrintableText(req.description, "description"));

  std::array<uint8_t, 32> raw{};
  random_.Fill(raw.data(), raw.size());
  CreatedWebhook out;
  out.secret = std::string(kWebhookSecretPrefix) +
               crypto::Base64UrlEncode(
                   std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  std::fill(raw.begin(), raw.end(), 0);
  store::Webhook& w = out.webhook;
  w.id = NewUuid(random_);
  w.org_id = org.id;
  w.url = req.url;
  w.description = req.description;
  w.events = std::move(events);
  w.sealed_secret = secrets_.Seal(out.secret, random_);
  w.created_by_kind = PrincipalKindName(p.kind);
  w.created_by_id = p.id;
  w.created_by_name = p.display_name;
  w.created_at = clock_.Now();
  std::string list;
  for (const auto& e : w.events) list += (list.empty() ? "" : ", ") + e;
  auto st = webhooks_.CreateWebhook(
      w, orgs_.NewEvent(p, org.id, AuditAction::kWebhookCreated, AuditTarget::kWebhook, w.id,
                        p.display_name + " created a webhook to " + WebhookUrlForDisplay(w.url) +
                            " for " + list));
  if (!st) {
    if (st.error().IsAlreadyExists()) {
      return Fail(Error::AlreadyExists("the organization already has a webhook to this URL"));
    }
    return Fail(st.error());
  }
  return out;
}

Result<store::Page<store::Webhook, store::TimeKey>> WebhookService::List(
    const Principal& p, const std::string& org_name,
    const store::PageRequest<store::TimeKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, Manage(p, org_name));
  return webhooks_.ListWebhooks(org.id, page);
}

Result<store::Webhook> WebhookService::Get(const Principal& p, const std::string& org_name,
                                           const std::string& id) {
  CL_ASSIGN_OR_RETURN(auto org, Manage(p, org_name));
  if (!IsUuid(id)) return Fail(Error::NotFound("webhook not found"));
  return webhooks_.GetWebhook(org.id, id);
}

Status WebhookService::Delete(const Principal& p, const std::string& org_name,
                              const std::string& id) {
  CL_ASSIGN_OR_RETURN(auto org, Manage(p, org_name));
  if (!IsUuid(id)) return Fail(Error::NotFound("webhook not found"));
  CL_ASSIGN_OR_RETURN(auto w, webhooks_.GetWebhook(org.id, id));
  return webhooks_.DeleteWebhook(
      org.id, id,
      orgs_.NewEvent(p, org.id, AuditAction::kWebhookDeleted, AuditTarget::kWebhook, id,
                     p.display_name + " deleted the webhook to " + WebhookUrlForDisplay(w.url)));
}

Result<store::Page<store::WebhookDelivery, store::TimeKey>> WebhookService::Deliveries(
    const Principal& p, const std::string& org_name, const std::string& id,
    const store::PageRequest<store::TimeKey>& page) {
  CL_ASSIGN_OR_RETURN(auto org, Manage(p, org_name));
  if (!IsUuid(id)) return Fail(Error::NotFound("webhook not found"));
  return webhooks_.ListWebhookDeliveries(org.id, id, page);
}

Result<std::string> WebhookService::Ping(const Principal& p, const std::string& org_name,
                                         const std::string& id) {
  CL_ASSIGN_OR_RETURN(auto org, Manage(p, org_name));
  if (!IsUuid(id)) return Fail(Error::NotFound("webhook not found"));
  CL_ASSIGN_OR_RETURN(auto w, webhooks_.GetWebhook(org.id, id));
  store::WebhookEvent event;
  event.id = NewUuid(random_);
  event.org_id = org.id;
  event.event = "ping";
  event.payload = R"({"message":"ping from chainloop"})";
  event.created_at = clock_.Now();
  CL_ASSIGN_OR_RETURN(int enqueued, webhooks_.EnqueueWebhookEvent(event, w.id));
  // Zero: the webhook was deleted between the read and the write.
  if (enqueued == 0) return Fail(Error::NotFound("webhook not found"));
  return event.id;
}

}  // namespace cl::domain
