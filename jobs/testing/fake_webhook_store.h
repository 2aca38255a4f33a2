// FakeWebhookStore: an in-memory store::WebhookStore for the webhook dispatcher's tests. It keeps
// webhooks, events and deliveries in maps and implements claiming (lease), attempts, pruning and
// token notices as the interface describes; tests add rows directly and read them back.
// Thread-safe (one mutex), so the dispatcher's parallel senders can use it.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"
#include "store/webhook_store.h"

namespace cl::jobs::testing {

class FakeWebhookStore final : public store::WebhookStore {
 public:
  // Rows the tests set up.
  void AddWebhook(store::Webhook w, std::string org_name) {
    std::lock_guard<std::mutex> lock(mu_);
    org_names_[w.org_id] = std::move(org_name);
    webhooks_[w.id] = std::move(w);
  }
  // The notices the next EnqueueTokenNotices call finds (each returned once).
  void AddDueNotice(store::TokenNotice n) {
    std::lock_guard<std::mutex> lock(mu_);
    due_notices_.push_back(std::move(n));
  }
  // Makes the next claims fail (the database is down).
  void FailClaims(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_claims_ = fail;
  }

  store::WebhookDelivery Delivery(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_.at(id);
  }
  std::vector<store::WebhookDelivery> Deliveries() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<store::WebhookDelivery> out;
    for (const auto& [id, d] : deliveries_) out.push_back(d);
    return out;
  }
  std::vector<store::WebhookEvent> Events() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<store::WebhookEvent> out;
    for (const auto& [id, e] : events_) out.push_back(e);
    return out;
  }
  std::string SealedSecret(const std::string& webhook_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    return webhooks_.at(webhook_id).sealed_secret;
  }
  std::vector<UnixMillis> PruneCalls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return prune_calls_;
  }
  int NoticeCalls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return notice_calls_;
  }

  Status CreateWebhook(const store::Webhook& webhook, const store::AuditEvent&) override {
    std::lock_guard<std::mutex> lock(mu_);
    webhooks_[webhook.id] = webhook;
    return Ok();
  }
  Result<store::Page<store::Webhook, store::TimeKey>> ListWebhooks(
      const std::string&, const store::PageRequest<store::TimeKey>&) override {
    return Fail(Error::Internal("not used by the dispatcher"));
  }
  Result<store::Webhook> GetWebhook(const std::string& org_id, const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = webhooks_.find(id);
    if (it == webhooks_.end() || it->second.org_id != org_id) {
      return Fail(Error::NotFound("webhook not found"));
    }
    return it->second;
  }
  Status DeleteWebhook(const std::string& org_id, const std::string& id,
                       const store::AuditEvent&) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = webhooks_.find(id);
    if (it == webhooks_.end() || it->second.org_id != org_id) {
      return Fail(Error::NotFound("webhook not found"));
    }
    webhooks_.erase(it);
    std::erase_if(deliveries_, [&](const auto& kv) { return kv.second.webhook_id == id; });
    return Ok();
  }
  Result<bool> ResealWebhookSecret(const std::string& id, const std::string& old_sealed,
                                   const std::string& new_sealed) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = webhooks_.find(id);
    if (it == webhooks_.end() || it->second.sealed_secret != old_sealed) return false;
    it->second.sealed_secret = new_sealed;
    return true;
  }
  Result<std::vector<std::pair<std::string, int64_t>>> CountWebhookSecretsByPepper() override {
    return Fail(Error::Internal("not used by the dispatcher"));
  }

  Result<int> EnqueueWebhookEvent(const store::WebhookEvent& event,
                                  const std::optional<std::string>& only_webhook) override {
    std::lock_guard<std::mutex> lock(mu_);
    return EnqueueLocked(event, only_webhook);
  }

  Result<std::vector<store::ClaimedDelivery>> ClaimWebhookDeliveries(UnixMillis now, int limit,
                                                                     int64_t lease_ms) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_claims_) return Fail(Error::Unavailable("database is down"));
    std::vector<store::WebhookDelivery*> due;
    for (auto& [id, d] : deliveries_) {
      if (d.status == "pending" && d.next_attempt_at <= now) due.push_back(&d);
    }
    std::sort(due.begin(), due.end(), [](const auto* a, const auto* b) {
      return std::pair(a->next_attempt_at, a->id) < std::pair(b->next_attempt_at, b->id);
    });
    if (due.size() > static_cast<size_t>(limit)) due.resize(static_cast<size_t>(limit));
    std::vector<store::ClaimedDelivery> out;
    for (store::WebhookDelivery* d : due) {
      d->next_attempt_at = now + lease_ms;
      const store::Webhook& w = webhooks_.at(d->webhook_id);
      const store::WebhookEvent& e = events_.at(d->event_id);
      out.push_back(store::ClaimedDelivery{.delivery = *d,
                                           .url = w.url,
                                           .sealed_secret = w.sealed_secret,
                                           .org_name = org_names_[d->org_id],
                                           .payload = e.payload,
                                           .event_created_at = e.created_at});
    }
    return out;
  }

  Status RecordWebhookAttempt(const store::WebhookAttempt& attempt) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = deliveries_.find(attempt.delivery_id);
    if (it == deliveries_.end()) return Fail(Error::NotFound("delivery not found"));
    store::WebhookDelivery& d = it->second;
    d.attempts += 1;
    d.status = attempt.status;
    d.last_attempt_at = attempt.at;
    d.last_response_status = attempt.response_status;
    d.last_error = attempt.error;
    if (attempt.status == "pending") d.next_attempt_at = attempt.next_attempt_at;
    if (attempt.status == "delivered") d.delivered_at = attempt.at;
    return Ok();
  }

  Result<store::Page<store::WebhookDelivery, store::TimeKey>> ListWebhookDeliveries(
      const std::string&, const std::string&, const store::PageRequest<store::TimeKey>&) override {
    return Fail(Error::Internal("not used by the dispatcher"));
  }

  Result<int64_t> PruneWebhookHistory(UnixMillis before) override {
    std::lock_guard<std::mutex> lock(mu_);
    prune_calls_.push_back(before);
    int64_t n = std::erase_if(deliveries_, [&](const auto& kv) {
      return kv.second.status != "pending" && kv.second.created_at < before;
    });
    std::erase_if(events_, [&](const auto& kv) {
      return std::none_of(deliveries_.begin(), deliveries_.end(),
                          [&](const auto& d) { return d.second.event_id == kv.first; });
    });
    return n;
  }

  Result<std::vector<store::TokenNotice>> EnqueueTokenNotices(
      UnixMillis now, int64_t ahead_ms,
      const std::function<store::WebhookEvent(const store::TokenNotice&)>& make_event) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++notice_calls_;
    std::vector<store::TokenNotice> out;
    for (const store::TokenNotice& n : due_notices_) {
      if (n.due_at <= now || n.due_at > now + ahead_ms) continue;
      CL_RETURN_IF_ERROR(EnqueueLocked(make_event(n), std::nullopt));
      out.push_back(n);
    }
    std::erase_if(due_notices_,
                  [&](const auto& n) { return n.due_at > now && n.due_at <= now + ahead_ms; });
    return out;
  }

 private:
  Result<int> EnqueueLocked(const store::WebhookEvent& event,
                            const std::optional<std::string>& only_webhook) {
    int created = 0;
    for (const auto& [id, w] : webhooks_) {
      if (w.org_id != event.org_id) continue;
      if (only_webhook
              ? id != *only_webhook
              : std::find(w.events.begin(), w.events.end(), event.event) == w.events.end()) {
        continue;
      }
      store::WebhookDelivery d;
      d.id = event.id + "/" + id;
      d.webhook_id = id;
      d.org_id = event.org_id;
      d.event_id = event.id;
      d.event = event.event;
      d.status = "pending";
      d.created_at = event.created_at;
      d.next_attempt_at = event.created_at;
      deliveries_[d.id] = d;
      ++created;
    }
    if (created > 0) events_[event.id] = event;
    return created;
  }

  mutable std::mutex mu_;
  std::map<std::string, store::Webhook> webhooks_;
  std::map<std::string, std::string> org_names_;
  std::map<std::string, store::WebhookEvent> events_;
  std::map<std::string, store::WebhookDelivery> deliveries_;
  std::vector<store::TokenNotice> due_notices_;
  std::vector<UnixMillis> prune_calls_;
  int notice_calls_ = 0;
  bool fail_claims_ = false;
};

}  // namespace cl::jobs::testing
