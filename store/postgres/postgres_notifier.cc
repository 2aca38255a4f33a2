// PostgreSQL RevocationNotifier: a listener thread owns the LISTENing connection (listen URL) and
// waits in poll() on its socket and on an eventfd used to stop it, reconnecting at once and then
// with capped backoff; a heartbeat thread NOTIFYs the instance's own heartbeat through the
// database URL (publisher connection). Hearing() compares the steady clock with the send time of
// the newest heartbeat heard plus deaf_after. The heartbeat thread also sends the queued ban
// announcements.
#include "store/postgres/postgres_notifier.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/random.h"
#include "store/postgres/postgres_database.h"

namespace cl::store {
namespace {

using Steady = std::chrono::steady_clock;

constexpr int kInitialBackoffMs = 100;
// Revocations announced while the listener is away are lost (the gap callbacks make the cache
// drop everything when it hears again), and the instance fails closed meanwhile; still, keep
// the time from the database being back to the listener being back well under a second.
constexpr int kMaxBackoffMs = 500;
// While the database stays unreachable, a failed attempt is logged at most this often.
constexpr auto kFailureLogEvery = std::chrono::seconds(30);
// Ban announcements waiting to be sent, at most.
constexpr size_t kMaxQueuedBans = 1024;
// How long the first Subscribe waits for the listener to hear its own heartbeat.
constexpr auto kFirstHearingWait = std::chrono::seconds(3);

void IgnoreNotice(void*, const char*) {}

// libpq's message ends with a newline; the connection string is never part of it.
std::string ConnError(PGconn* conn) {
  std::string why = conn ? PQerrorMessage(conn) : "out of memory";
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why;
}

// Keepalives make a silently dead server (no RST) show up as a broken socket within about a
// minute, so the listener reconnects instead of waiting forever (it is deaf, and says so, long
// before: heartbeats stop arriving).
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

int64_t SteadyNanos(Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Logs at most once per kFailureLogEvery while failures repeat; Reset() after a success.
class ThrottledLog {
 public:
  bool ShouldLog() {
    const auto now = Steady::now();
    if (last_ != Steady::time_point{} && now - last_ < kFailureLogEvery) return false;
    last_ = now;
    return true;
  }
  void Reset() { last_ = {}; }

 private:
  Steady::time_point last_{};
};

class PostgresRevocationNotifier final : public RevocationNotifier {
 public:
  PostgresRevocationNotifier(std::string conninfo, std::string listen_conninfo, PGconn* publisher,
                             int wake_fd, const NotifierOptions& options, std::string nonce)
      : conninfo_(std::move(conninfo)),
        listen_conninfo_(std::move(listen_conninfo)),
        interval_(options.heartbeat_interval),
        deaf_after_(options.deaf_after),
        nonce_(std::move(nonce)),
        publisher_(publisher),
        wake_fd_(wake_fd) {}

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
    return Publish(kRevocationChannel, token_hash);
  }

  void Subscribe(RevocationCallback callback) override {
    std::unique_lock lock(mu_);
    if (stopped_) return;
    callbacks_.push_back(std::move(callback));
    if (!listener_.joinable()) {
      listener_ = std::thread([this] { ListenLoop(); });
      heartbeat_ = std::thread([this] { HeartbeatLoop(); });
      hearing_cv_.wait_for(lock, kFirstHearingWait, [&] { return heard_once_ || stopped_; });
    }
  }

  void SubscribeGaps(GapCallback callback) override {
    std::lock_guard lock(mu_);
    if (!stopped_) gap_callbacks_.push_back(std::move(callback));
  }

  void PublishBan(const std::string& ban_key) override {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      if (queued_bans_.size() >= kMaxQueuedBans) {
        bans_dropped_.fetch_add(1);
        return;
      }
      queued_bans_.push_back(ban_key);
    }
    send_cv_.notify_all();
  }

  void SubscribeBans(BanCallback callback) override {
    std::lock_guard lock(mu_);
    if (!stopped_) ban_callbacks_.push_back(std::move(callback));
  }

  bool Hearing() const override {
    return SteadyNanos(Steady::now()) < trusted_until_ns_.load(std::memory_order_acquire);
  }

  ListenerHealth Health() const override {
    ListenerHealth h;
    h.connected = connected_.load();
    h.hearing = Hearing();
    h.through_pooler = through_pooler_.load();
    h.heartbeat_lag_ms = lag_ms_.load();
    h.deaf_periods = deaf_periods_.load();
    h.bans_dropped = bans_dropped_.load();
    if (!h.hearing) h.problem = Problem(h);
    return h;
  }

  void Stop() override {
    std::thread listener, heartbeat;
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      listener = std::move(listener_);
      heartbeat = std::move(heartbeat_);
    }
    hearing_cv_.notify_all();
    send_cv_.notify_all();
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
    if (listener.joinable()) listener.join();
    if (heartbeat.joinable()) heartbeat.join();
    trusted_until_ns_.store(0, std::memory_order_release);
    std::lock_guard lock(mu_);
    callbacks_.clear();
    gap_callbacks_.clear();
    ban_callbacks_.clear();
    queued_bans_.clear();
  }

 private:
  // Why the instance is deaf, in words an operator can act on.
  std::string Problem(const ListenerHealth& h) const {
    if (!h.connected) return "the revocation listener is not connected to the database";
    if (h.through_pooler && h.heartbeat_lag_ms < 0) {
      return "the revocation listener never heard its own heartbeat and its connection goes "
             "through a connection pooler: a transaction-mode pooler (PgBouncer "
             "pool_mode=transaction) does not deliver notifications; point database_listen_url "
             "at PostgreSQL directly or at a session-mode pool";
    }
    if (h.heartbeat_lag_ms < 0) {
      return "the revocation listener never heard its own heartbeat: notifications do not reach "
             "it (a transaction-mode connection pooler on database_listen_url?)";
    }
    return "the revocation listener has not heard its own heartbeat for more than " +
           std::to_string(deaf_after_.count()) + " ms (database slow or heartbeat failing)";
  }

  Status Publish(const char* channel, const std::string& payload) {
    std::lock_guard lock(publish_mu_);
    // One retry: the first attempt may be what reveals a connection the server dropped.
    Status last = Ok();
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (publisher_ == nullptr) publisher_ = Connect(conninfo_);
      if (publisher_ != nullptr && PQstatus(publisher_) != CONNECTION_OK) PQreset(publisher_);
      if (publisher_ == nullptr || PQstatus(publisher_) != CONNECTION_OK) {
        last = Fail(Error::Unavailable("cannot connect to postgres to publish a notification: " +
                                       ConnError(publisher_)));
        continue;
      }
      const char* values[] = {channel, payload.c_str()};
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

  bool Stopping() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

  // Sleeps for `ms` unless Stop() is called meanwhile; returns false when stopping.
  bool Sleep(int64_t ms) {
    pollfd fd{wake_fd_, POLLIN, 0};
    (void)::poll(&fd, 1, static_cast<int>(std::max<int64_t>(ms, 0)));
    return !Stopping();
  }

  // Sends "<nonce>:<steady send time in ns>" every interval_, and logs when the instance turns
  // deaf (and every kFailureLogEvery while it stays so).
  void HeartbeatLoop() {
    ThrottledLog publish_failures, deaf_reminders;
    bool was_hearing = false;
    const auto started = Steady::now();
    do {
      const auto sent = Steady::now();
      auto st = Publish(kHeartbeatChannel, nonce_ + ":" + std::to_string(SteadyNanos(sent)));
      if (!st && publish_failures.ShouldLog()) {
        Log(LogLevel::kWarn, "revocation heartbeat cannot be sent",
            {{"error", st.error().message()}});
      } else if (st) {
        publish_failures.Reset();
      }
      const ListenerHealth h = Health();
      if (h.hearing) {
        was_hearing = true;
        deaf_reminders.Reset();
      } else if (was_hearing) {
        was_hearing = false;
        deaf_periods_.fetch_add(1);
        (void)deaf_reminders.ShouldLog();
        Log(LogLevel::kWarn,
            "instance is deaf to revocations: failing closed (every request re-reads its "
            "credential from the database)",
            {{"problem", h.problem}});
      } else if (Steady::now() - started > 2 * deaf_after_ + interval_ &&
                 deaf_reminders.ShouldLog()) {
        Log(LogLevel::kError,
            "instance is deaf to revocations: failing closed (every request re-reads its "
            "credential from the database)",
            {{"problem", h.problem}});
      }
      // Until the next heartbeat, send the bans announced meanwhile.
      const auto next = sent + interval_;
      while (true) {
        std::vector<std::string> bans;
        {
          std::unique_lock lock(mu_);
          send_cv_.wait_until(lock, next, [&] { return stopped_ || !queued_bans_.empty(); });
          if (stopped_) return;
          bans.swap(queued_bans_);
        }
        if (bans.empty()) break;  // time for the next heartbeat
        SendBans(bans, publish_failures);
      }
    } while (true);
  }

  void SendBans(const std::vector<std::string>& bans, ThrottledLog& failures) {
    for (size_t i = 0; i < bans.size(); ++i) {
      auto st = Publish(kBanChannel, bans[i]);
      if (!st) {
        bans_dropped_.fetch_add(bans.size() - i);
        if (failures.ShouldLog()) {
          Log(LogLevel::kWarn, "ban not announced to other instances",
              {{"error", st.error().message()}, {"dropped", bans.size() - i}});
        }
        return;
      }
    }
  }

  void ListenLoop() {
    int backoff_ms = 0;  // the first retry after losing the connection is at once
    ThrottledLog failures;
    while (!Stopping()) {
      PGconn* conn = Connect(listen_conninfo_);
      std::string why;
      if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
        why = "cannot connect: " + ConnError(conn);
      } else if (!StartListening(conn, &why)) {
        why = "cannot LISTEN: " + why;
      }
      if (!why.empty()) {
        if (failures.ShouldLog()) {
          Log(LogLevel::kWarn, "revocation listener cannot listen",
              {{"error", why}, {"retry_ms", backoff_ms}});
        }
        if (conn != nullptr) PQfinish(conn);
        if (!Sleep(backoff_ms)) return;
        backoff_ms = std::clamp(backoff_ms * 2, kInitialBackoffMs, kMaxBackoffMs);
        continue;
      }
      backoff_ms = 0;
      failures.Reset();
      connected_.store(true);
      ReceiveUntilBroken(conn);
      // Whatever was announced from now until the next heartbeat heard may be lost.
      connected_.store(false);
      trusted_until_ns_.store(0, std::memory_order_release);
      PQfinish(conn);
    }
  }

  // LISTENs on both channels; records whether the connection goes through a pooler.
  bool StartListening(PGconn* conn, std::string* why) {
    PGresult* pid = PQexec(conn, "SELECT pg_backend_pid()");
    if (PQresultStatus(pid) == PGRES_TUPLES_OK && PQntuples(pid) == 1) {
      const bool pooled = std::to_string(PQbackendPID(conn)) != PQgetvalue(pid, 0, 0);
      if (pooled && !through_pooler_.exchange(true)) {
        Log(LogLevel::kInfo,
            "revocation listener connects through a connection pooler: it must be in session "
            "mode (a transaction-mode pooler drops notifications; the heartbeat will tell)");
      }
    }
    PQclear(pid);
    const std::string sql = std::string("LISTEN ") + kRevocationChannel + "; LISTEN " +
                            kHeartbeatChannel + "; LISTEN " + kBanChannel;
    PGresult* res = PQexec(conn, sql.c_str());
    const bool ok = res != nullptr && PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) *why = ConnError(conn);
    return ok;
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
        const std::string channel = note->relname != nullptr ? note->relname : "";
        PQfreemem(note);
        if (channel == kHeartbeatChannel) {
          Heard(payload);
        } else if (channel == kRevocationChannel && IsTokenHashHex(payload)) {
          // Anyone who can connect may NOTIFY: deliver only well-formed hashes.
          for (const auto& cb : Callbacks()) cb(payload);
        } else if (channel == kBanChannel && payload.size() <= 128) {
          for (const auto& cb : BanCallbacks()) cb(payload);
        }
      }
      if (PQstatus(conn) != CONNECTION_OK) return;
    }
  }

  // A heartbeat arrived: when it is ours and recent, trust extends to its send time plus
  // deaf_after. Coming back from deafness, the gap callbacks run before Hearing() turns true.
  void Heard(const std::string& payload) {
    if (payload.size() <= nonce_.size() + 1 || payload.compare(0, nonce_.size(), nonce_) != 0 ||
        payload[nonce_.size()] != ':') {
      return;  // another instance's
    }
    int64_t sent_ns = 0;
    const char* begin = payload.data() + nonce_.size() + 1;
    const char* end = payload.data() + payload.size();
    if (auto [p, ec] = std::from_chars(begin, end, sent_ns); ec != std::errc() || p != end) return;
    const int64_t now_ns = SteadyNanos(Steady::now());
    lag_ms_.store((now_ns - sent_ns) / 1'000'000);
    const int64_t until = sent_ns + std::chrono::nanoseconds(deaf_after_).count();
    if (until <= now_ns) return;  // too old to vouch for anything
    const int64_t current = trusted_until_ns_.load(std::memory_order_acquire);
    if (current <= now_ns) {
      // Was deaf: what was announced meanwhile may be lost.
      for (const auto& cb : GapCallbacks()) cb();
    }
    if (until > current) trusted_until_ns_.store(until, std::memory_order_release);
    if (current <= now_ns) {
      std::lock_guard lock(mu_);
      if (heard_once_) Log(LogLevel::kInfo, "instance hears revocations again");
      heard_once_ = true;
      hearing_cv_.notify_all();
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
  std::vector<BanCallback> BanCallbacks() {
    std::lock_guard lock(mu_);
    return ban_callbacks_;
  }

  const std::string conninfo_;         // database URL: publisher and heartbeat
  const std::string listen_conninfo_;  // the listener's
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds deaf_after_;
  const std::string nonce_;  // tells this instance's heartbeats from others'

  std::mutex publish_mu_;
  PGconn* publisher_;  // GUARDED_BY(publish_mu_)

  // Steady-clock time (ns) until which the cache may be trusted; 0 while deaf.
  std::atomic<int64_t> trusted_until_ns_{0};
  std::atomic<bool> connected_{false};
  std::atomic<bool> through_pooler_{false};
  std::atomic<int64_t> lag_ms_{-1};
  std::atomic<uint64_t> deaf_periods_{0};
  std::atomic<uint64_t> bans_dropped_{0};

  const int wake_fd_;  // eventfd: written once by Stop()
  std::mutex mu_;
  std::condition_variable hearing_cv_;
  std::condition_variable send_cv_;  // wakes the heartbeat thread: a ban queued, or Stop()
  std::vector<RevocationCallback> callbacks_;  // GUARDED_BY(mu_)
  std::vector<GapCallback> gap_callbacks_;     // GUARDED_BY(mu_)
  std::vector<BanCallback> ban_callbacks_;     // GUARDED_BY(mu_)
  std::vector<std::string> queued_bans_;       // GUARDED_BY(mu_)
  bool heard_once_ = false;                    // GUARDED_BY(mu_)
  bool stopped_ = false;                       // GUARDED_BY(mu_)
  std::thread listener_;                       // GUARDED_BY(mu_)
  std::thread heartbeat_;                      // GUARDED_BY(mu_)
};

std::string NewNonce() {
  SystemRandom random;
  uint8_t bytes[16];
  random.Fill(bytes, sizeof(bytes));
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// Connects once to check `conninfo`; the caller owns the connection.
Result<PGconn*> CheckedConnect(const std::string& conninfo, const char* what) {
  PGconn* conn = Connect(conninfo);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    Error e = Error::Unavailable(std::string("cannot connect to postgres (") + what +
                                 "): " + ConnError(conn));
    if (conn != nullptr) PQfinish(conn);
    return Fail(e);
  }
  return conn;
}

}  // namespace

Result<std::unique_ptr<RevocationNotifier>> OpenPostgresRevocationNotifier(
    const std::string& url, const NotifierOptions& options) {
  int pool_size = 0;  // the database pool's parameter, meaningless here
  CL_ASSIGN_OR_RETURN(std::string conninfo, StripPoolSize(url, &pool_size));
  std::string listen_conninfo = conninfo;
  if (!options.listen_url.empty()) {
    CL_ASSIGN_OR_RETURN(listen_conninfo, StripPoolSize(options.listen_url, &pool_size));
    CL_ASSIGN_OR_RETURN(PGconn * probe, CheckedConnect(listen_conninfo, "database_listen_url"));
    PQfinish(probe);
  }
  CL_ASSIGN_OR_RETURN(PGconn * publisher, CheckedConnect(conninfo, "database"));
  const int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    PQfinish(publisher);
    return Fail(Error::Internal("eventfd failed"));
  }
  return std::unique_ptr<RevocationNotifier>(std::make_unique<PostgresRevocationNotifier>(
      std::move(conninfo), std::move(listen_conninfo), publisher, wake_fd, options, NewNonce()));
}

}  // namespace cl::store
