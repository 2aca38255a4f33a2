// The in-process RevocationNotifier and OpenRevocationNotifier's choice of implementation.
#include "store/notifications.h"

#include <mutex>
#include <string_view>
#include <vector>

#include "store/postgres/postgres_notifier.h"

namespace cl::store {
namespace {

// One instance only: publishing is calling the local subscribers, synchronously.
class InProcessRevocationNotifier final : public RevocationNotifier {
 public:
  Status PublishRevocation(const std::string& token_hash) override {
    if (!IsTokenHashHex(token_hash)) {
      return Fail(Error::InvalidArgument("revocation payload must be a token hash"));
    }
    std::vector<RevocationCallback> callbacks;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return Ok();
      callbacks = callbacks_;
    }
    // Called without the lock, so a callback may subscribe or publish.
    for (const auto& cb : callbacks) cb(token_hash);
    return Ok();
  }

  void Subscribe(RevocationCallback callback) override {
    std::lock_guard lock(mu_);
    callbacks_.push_back(std::move(callback));
  }

  // A single instance never misses its own revocations.
  void SubscribeGaps(GapCallback) override {}
  bool Hearing() const override { return true; }
  void PublishBan(const std::string&) override {}
  void SubscribeBans(BanCallback) override {}
  ListenerHealth Health() const override {
    ListenerHealth h;
    h.connected = h.hearing = true;
    return h;
  }

  void Stop() override {
    std::lock_guard lock(mu_);
    stopped_ = true;
    callbacks_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<RevocationCallback> callbacks_;  // GUARDED_BY(mu_)
  bool stopped_ = false;                       // GUARDED_BY(mu_)
};

}  // namespace

bool IsTokenHashHex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::unique_ptr<RevocationNotifier> NewInProcessRevocationNotifier() {
  return std::make_unique<InProcessRevocationNotifier>();
}

Result<std::unique_ptr<RevocationNotifier>> OpenRevocationNotifier(const std::string& database_url,
                                                                   const NotifierOptions& options) {
  const std::string_view u(database_url);
  auto is_postgres = [](std::string_view url) {
    return url.starts_with("postgres://") || url.starts_with("postgresql://");
  };
  if (!options.listen_url.empty() && !is_postgres(options.listen_url)) {
    // Never echo the URL: it may carry a password.
    return Fail(
        Error::InvalidArgument("database_listen_url must be a postgres:// or postgresql:// URL"));
  }
  if (u.starts_with("sqlite:")) {
    if (!options.listen_url.empty()) {
      return Fail(Error::InvalidArgument(
          "database_listen_url applies to PostgreSQL only (the database is SQLite)"));
    }
    return NewInProcessRevocationNotifier();
  }
  if (is_postgres(u)) return OpenPostgresRevocationNotifier(database_url, options);
  // The URL may carry a password: never echo it.
  return Fail(Error::InvalidArgument(
      "unsupported database URL scheme for revocation notifications; expected sqlite:PATH, "
      "postgres://... or postgresql://..."));
}

}  // namespace cl::store
