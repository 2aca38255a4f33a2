// PostgreSQL RevocationNotifier: publishes with pg_notify() on a dedicated connection and
// listens on another one, owned by a background thread that waits in poll() on the libpq socket
// and on an eventfd used to stop it, and reconnects with capped exponential backoff.
#include "store/postgres/postgres_notifier.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "store/postgres/postgres_database.h"

namespace cl::store {
namespace {

constexpr int kInitialBackoffMs = 100;
// Revocations announced while the listener is away are lost; after it reconnects, the gap
// callbacks make the cache re-validate. So the time from the database being back to the listener
// being back is a window in which another instance's revocation is not yet seen here: keep it
// well under the promised second.
constexpr int kMaxBackoffMs = 500;
// While the database stays unreachable, a failed attempt is logged at most this often.
constexpr auto kConnectFailureLogEvery = std::chrono::seconds(30);
// How long the first Subscribe waits for the listener to be listening.
constexpr auto kFirstListenWait = std::chrono::seconds(5);

void IgnoreNotice(void*, const char*) {}

// libpq's message ends with a newline; the connection string is never part of it.
std::string ConnError(PGconn* conn) {
  std::string why = conn ? PQerrorMessage(conn) : "out of memory";
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why;
}

// Keepalives make a silently dead server (no RST) show up as a broken socket within about a
// minute, so the listener reconnects instead of waiting forever.
PGconn* Connect(const std::string& conninfo) {
  // Values later in the arrays (the URL's) override these defaults.
  const char* keys[] = {
      "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
      "keepalives_count", "application_name", "dbname",          nullptr};
  const char* values[] = {"5",    "1", "30", "10", "3", "chainloop-revocations", conninfo.c_str(),
                          nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn != nullptr) PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return conn;
}

class PostgresRevocationNotifier final : public RevocationNotifier {
 public:
  PostgresRevocationNotifier(std::string conninfo, PGconn* publisher, int wake_fd)
      : conninfo_(std::move(conninfo)), publisher_(publisher), wake_fd_(wake_fd) {}

  ~PostgresRevocationNotifier() override {
    Stop();
    if (publisher_ != nullptr) PQfinish(publisher_);
    ::close(wake_fd_);
  }

  PostgresRevocationNotifier(const PostgresRevocationNotifier&) = delete;
  PostgresRevocationNotifier& operator=(const PostgresRevocationNotifier&) = delete;

  Status PublishRevocation(const std::string& token_hash) override {
    if (!IsTokenHashHex(token_hash)) {
      return Fail(Error::InvalidArgument("revocation payload must be a token hash"));
    }
    std::lock_guard lock(publish_mu_);
    // One retry: the first attempt may be what reveals a connection the server dropped.
    Status last = Ok();
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (publisher_ == nullptr) publisher_ = Connect(conninfo_);
      if (publisher_ != nullptr && PQstatus(publisher_) != CONNECTION_OK) PQreset(publisher_);
      if (publisher_ == nullptr || PQstatus(publisher_) != CONNECTION_OK) {
        last = Fail(Error::Unavailable("cannot connect to postgres to publish a revocation: " +
                                       ConnError(publisher_)));
        continue;
      }
      const char* values[] = {kRevocationChannel, token_hash.c_str()};
      PGresult* res = PQexecParams(publisher_, "SELECT pg_notify($1, $2)", 2, nullptr, values,
                                   nullptr, nullptr, 0);
      const bool ok = res != nullptr && PQresultStatus(res) == PGRES_TUPLES_OK;
      PQclear(res);
      if (ok) return Ok();
      last = Fail(Error::Unavailable("postgres pg_notify failed: " + ConnError(publisher_)));
      if (PQstatus(publisher_) == CONNECTION_OK) break;  // a server-side error: do not retry
    }
    return last;
  }

  void Subscribe(RevocationCallback callback) override {
    std::unique_lock lock(mu_);
    if (stopped_) return;
    callbacks_.push_back(std::move(callback));
    if (!thread_.joinable()) {
      thread_ = std::thread([this] { ListenLoop(); });
      listening_cv_.wait_for(lock, kFirstListenWait, [&] { return listening_ || stopped_; });
    }
  }

  void SubscribeGaps(GapCallback callback) override {
    std::lock_guard lock(mu_);
    if (!stopped_) gap_callbacks_.push_back(std::move(callback));
  }

  void Stop() override {
    std::thread thread;
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      thread = std::move(thread_);
    }
    listening_cv_.notify_all();
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
    if (thread.joinable()) thread.join();
    std::lock_guard lock(mu_);
    callbacks_.clear();
    gap_callbacks_.clear();
  }

 private:
  bool Stopping() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

  // Sleeps for `ms` unless Stop() is called meanwhile; returns false when stopping.
  bool Backoff(int ms) {
    pollfd fd{wake_fd_, POLLIN, 0};
    (void)::poll(&fd, 1, ms);
    return !Stopping();
  }

  void ListenLoop() {
    int backoff_ms = kInitialBackoffMs;
    bool connected_before = false;
    std::chrono::steady_clock::time_point failures_logged_at{};  // none since the last success
    while (!Stopping()) {
      PGconn* conn = Connect(conninfo_);
      if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
        const auto now = std::chrono::steady_clock::now();
        if (failures_logged_at == std::chrono::steady_clock::time_point{} ||
            now - failures_logged_at >= kConnectFailureLogEvery) {
          failures_logged_at = now;
          Log(LogLevel::kWarn, "revocation listener cannot connect to postgres",
              {{"error", ConnError(conn)}, {"retry_ms", backoff_ms}});
        }
        if (conn != nullptr) PQfinish(conn);
        if (!Backoff(backoff_ms)) return;
        backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
        continue;
      }
      PGresult* res = PQexec(conn, (std::string("LISTEN ") + kRevocationChannel).c_str());
      const bool listening = res != nullptr && PQresultStatus(res) == PGRES_COMMAND_OK;
      PQclear(res);
      if (!listening) {
        Log(LogLevel::kWarn, "revocation listener cannot LISTEN", {{"error", ConnError(conn)}});
        PQfinish(conn);
        if (!Backoff(backoff_ms)) return;
        backoff_ms = std::min(backoff_ms * 2, kMaxBackoffMs);
        continue;
      }
      backoff_ms = kInitialBackoffMs;
      failures_logged_at = {};
      {
        std::lock_guard lock(mu_);
        listening_ = true;
      }
      listening_cv_.notify_all();
      if (connected_before) {
        Log(LogLevel::kInfo, "revocation listener reconnected");
        for (const auto& cb : GapCallbacks()) cb();
      }
      connected_before = true;
      ReceiveUntilBroken(conn);
      PQfinish(conn);
    }
  }

  // Delivers notifications until the connection breaks or Stop() is called.
  void ReceiveUntilBroken(PGconn* conn) {
    const int sock = PQsocket(conn);
    while (!Stopping()) {
      pollfd fds[2] = {{sock, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      const int n = ::poll(fds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;  // Stop()
      if (PQconsumeInput(conn) == 0) {
        Log(LogLevel::kWarn, "revocation listener lost its connection",
            {{"error", ConnError(conn)}});
        return;
      }
      while (PGnotify* note = PQnotifies(conn)) {
        const std::string payload = note->extra != nullptr ? note->extra : "";
        const bool ours = std::string_view(note->relname) == kRevocationChannel;
        PQfreemem(note);
        // Anyone who can connect may NOTIFY: deliver only well-formed hashes.
        if (!ours || !IsTokenHashHex(payload)) continue;
        for (const auto& cb : Callbacks()) cb(payload);
      }
      if (PQstatus(conn) != CONNECTION_OK) return;
    }
  }

  std::vector<RevocationCallback> Callbacks() {
    std::lock_guard lock(mu_);
    return callbacks_;
  }
  std::vector<GapCallback> GapCallbacks() {
    std::lock_guard lock(mu_);
    return gap_callbacks_;
  }

  const std::string conninfo_;

  std::mutex publish_mu_;
  PGconn* publisher_;  // GUARDED_BY(publish_mu_)

  const int wake_fd_;  // eventfd: written once by Stop()
  std::mutex mu_;
  std::condition_variable listening_cv_;
  std::vector<RevocationCallback> callbacks_;  // GUARDED_BY(mu_)
  std::vector<GapCallback> gap_callbacks_;     // GUARDED_BY(mu_)
  bool listening_ = false;                     // GUARDED_BY(mu_)
  bool stopped_ = false;                       // GUARDED_BY(mu_)
  std::thread thread_;                         // GUARDED_BY(mu_)
};

}  // namespace

Result<std::unique_ptr<RevocationNotifier>> OpenPostgresRevocationNotifier(const std::string& url) {
  int pool_size = 0;  // the database pool's parameter, meaningless here
  CL_ASSIGN_OR_RETURN(std::string conninfo, StripPoolSize(url, &pool_size));
  PGconn* publisher = Connect(conninfo);
  if (publisher == nullptr || PQstatus(publisher) != CONNECTION_OK) {
    Error e = Error::Unavailable("cannot connect to postgres: " + ConnError(publisher));
    if (publisher != nullptr) PQfinish(publisher);
    return Fail(e);
  }
  const int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    PQfinish(publisher);
    return Fail(Error::Internal("eventfd failed"));
  }
  return std::unique_ptr<RevocationNotifier>(
      std::make_unique<PostgresRevocationNotifier>(std::move(conninfo), publisher, wake_fd));
}

}  // namespace cl::store
