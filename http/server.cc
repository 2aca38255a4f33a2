// The Beast server's life cycle: Start (bind, TLS context, I/O threads, worker pool), graceful
// Stop, signals, and handing freed body memory back to the system after a burst. Accepting is
// in listener.cc, a connection's requests in connection.cc; server_impl.h says how they share
// state and threads.
#include "http/server.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <utility>

#include "common/log.h"
#include "http/server_impl.h"
#include "http/tls_context.h"

namespace cl::http {

void Server::Impl::OnSpawnDone(const std::exception_ptr& e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    Log(LogLevel::kError, "http coroutine failed", {{"error", ex.what()}});
  } catch (...) {
    Log(LogLevel::kError, "http coroutine failed", {{"error", "unknown exception"}});
  }
}

void Server::Impl::ScheduleTrim() {
#if defined(__GLIBC__)
  // glibc keeps freed memory in its arenas (and raises its mmap threshold after freeing a large
  // block, so later bodies come from the arenas too): without this, a burst of large bodies
  // leaves the process at its peak size for good.
  if (!trim_enabled.load() || trim_scheduled.exchange(true)) return;
  asio::post(slots[0]->ioc, [this] {
    if (stopping.load()) {
      trim_scheduled.store(false);
      return;
    }
    trim_timer->expires_at(std::max(last_trim + kTrimInterval, SteadyClock::now()));
    trim_timer->async_wait([this](const beast::error_code& ec) {
      if (ec) {
        trim_scheduled.store(false);
        return;
      }
      last_trim = SteadyClock::now();
      asio::post(*pool, [this] {
        trim_scheduled.store(false);  // a drain from now on needs a trim of its own
        malloc_trim(0);
        if (metrics) {
          metrics->IncCounter("chainloop_http_memory_trims_total",
                              "Times freed request-body memory was handed back to the system "
                              "(malloc_trim) after a burst.",
                              {});
        }
      });
    });
  });
#endif
}

Status Server::Impl::Start() {
  std::lock_guard<std::mutex> lock(mu);
  if (state != State::kNew) return Fail(Error::FailedPrecondition("server already started"));

  beast::error_code ec;
  auto address = asio::ip::make_address(opts.address, ec);
  if (ec) return Fail(Error::InvalidArgument("invalid listen address: " + opts.address));
  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty()) {
    return Fail(Error::InvalidArgument("TLS needs both a certificate file and a key file"));
  }
  if (!opts.tls_cert_file.empty()) {
    CL_ASSIGN_OR_RETURN(ssl_ctx, MakeTlsContext(opts));
  }

  int n = opts.io_threads > 0 ? opts.io_threads
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::unique_ptr<IoSlot>> new_slots;
  for (int i = 0; i < n; ++i) new_slots.push_back(std::make_unique<IoSlot>());

  auto acc = std::make_unique<tcp::acceptor>(new_slots[0]->ioc);
  tcp::endpoint endpoint(address, opts.port);
  std::string where = opts.address + ":" + std::to_string(opts.port);
  acc->open(endpoint.protocol(), ec);
  if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(endpoint, ec);
  if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Fail(Error::Unavailable("cannot listen on " + where + ": " + ec.message()));
  port = acc->local_endpoint(ec).port();
  if (ec) return Fail(Error::Unavailable("cannot read bound port: " + ec.message()));

  slots = std::move(new_slots);
  acceptor = std::move(acc);
  trim_timer = std::make_unique<asio::steady_timer>(slots[0]->ioc);
  pool = std::make_unique<asio::thread_pool>(std::max(1, opts.worker_threads));
  for (auto& slot : slots) guards.push_back(asio::make_work_guard(slot->ioc));

  asio::co_spawn(slots[0]->ioc, AcceptLoop(),
                 [this](const std::exception_ptr& e) { OnSpawnDone(e); });
  threads_running = n;
  for (auto& slot_ptr : slots) {
    IoSlot* slot = slot_ptr.get();
    slot->thread = std::thread([this, slot] {
      while (true) {
        try {
          slot->ioc.run();
          break;
        } catch (const std::exception& e) {
          Log(LogLevel::kError, "io thread caught exception", {{"error", e.what()}});
        } catch (...) {
          Log(LogLevel::kError, "io thread caught exception", {{"error", "unknown"}});
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      --threads_running;
      cv.notify_all();
    });
  }
  state = State::kRunning;
  Log(LogLevel::kInfo, "http server listening",
      {{"address", opts.address}, {"port", static_cast<int>(port)}, {"io_threads", n}});
  return Ok();
}

void Server::Impl::Stop() {
  std::unique_lock<std::mutex> lock(mu);
  switch (state) {
    case State::kNew:
    case State::kStopped:
      return;
    case State::kStopping:
      cv.wait(lock, [&] { return state == State::kStopped; });
      return;
    case State::kRunning:
      break;
  }
  state = State::kStopping;
  lock.unlock();

  stopping.store(true);
  asio::post(slots[0]->ioc, [this] {
    beast::error_code ignored;
    acceptor->close(ignored);
    trim_timer->cancel();
    if (signals) {
      signals->cancel(ignored);
      signals.reset();
    }
  });
  auto close_connections = [this](bool idle_only) {
    for (auto& slot_ptr : slots) {
      IoSlot* slot = slot_ptr.get();
      asio::post(slot->ioc, [slot, idle_only] {
        // Copy: closing completes reads, whose coroutines may unregister later.
        std::vector<Connection*> conns(slot->conns.begin(), slot->conns.end());
        for (Connection* c : conns) {
          if (!idle_only || c->idle) c->Close();
        }
      });
    }
  };
  close_connections(/*idle_only=*/true);
  guards.clear();  // each run() now returns when its last connection is done

  lock.lock();
  bool drained = cv.wait_for(lock, opts.shutdown_grace, [&] { return threads_running == 0; });
  lock.unlock();
  if (!drained) {
    Log(LogLevel::kWarn, "shutdown grace period expired; closing remaining connections");
    close_connections(/*idle_only=*/false);
    lock.lock();
    drained = cv.wait_for(lock, std::chrono::seconds(1), [&] { return threads_running == 0; });
    lock.unlock();
    if (!drained) {
      // Only handlers still running on the pool hold work now; their coroutines are dropped
      // when the io_contexts are destroyed.
      for (auto& slot : slots) slot->ioc.stop();
    }
  }
  for (auto& slot : slots) {
    if (slot->thread.joinable()) slot->thread.join();
  }
  pool->join();
  trim_enabled.store(false);
  Log(LogLevel::kInfo, "http server stopped");

  lock.lock();
  state = State::kStopped;
  cv.notify_all();
}

Server::Server(ServerOptions options, const Router& router, Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics)) {}

Server::~Server() { Stop(); }

Status Server::Start() { return impl_->Start(); }

uint16_t Server::port() const { return impl_->port; }

void Server::Stop() { impl_->Stop(); }

void Server::Wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [&] {
    return impl_->state == Impl::State::kNew || impl_->state == Impl::State::kStopped;
  });
}

void Server::RunUntilSignal() {
  Impl& impl = *impl_;
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    if (impl.state != Impl::State::kRunning) return;
  }
  asio::post(impl.slots[0]->ioc, [&impl] {
    // Skipped when Stop() already ran its cleanup on this io_context (it is queued first).
    if (impl.stopping.load()) return;
    impl.signals.emplace(impl.slots[0]->ioc, SIGINT, SIGTERM);
    impl.signals->async_wait([&impl](const beast::error_code& ec, int signo) {
      if (ec) return;
      Log(LogLevel::kInfo, "signal received; stopping", {{"signal", signo}});
      std::lock_guard<std::mutex> lock(impl.mu);
      impl.signal_received = true;
      impl.cv.notify_all();
    });
  });
  {
    std::unique_lock<std::mutex> lock(impl.mu);
    impl.cv.wait(lock, [&] { return impl.signal_received || impl.state != Impl::State::kRunning; });
  }
  Stop();
  Wait();
}

}  // namespace cl::http
