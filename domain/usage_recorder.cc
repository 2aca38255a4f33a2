#include "domain/usage_recorder.h"

#include <algorithm>

namespace cl::domain {
namespace {

// Length of the UTF-8 sequence starting at s[i] when it is complete and well-formed (no
// overlong forms, no surrogates, at most U+10FFFF), else 0.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return c == 0 ? 0 : 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

std::string ClipUserAgent(std::string_view user_agent) {
  std::string_view in = user_agent.substr(0, kMaxRecordedUserAgentBytes);
  const bool clipped = in.size() < user_agent.size();
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    size_t n = Utf8SequenceLength(in, i);
    if (n == 0 && clipped && Utf8SequenceLength(user_agent, i) > in.size() - i) {
      break;  // a character the clip cut in two
    }
    if (n == 0) {
      constexpr char kHex[] = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(in[i]);
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
      ++i;
      continue;
    }
    out.append(in.substr(i, n));
    i += n;
  }
  return out;
}

void UsageRecorder::Touch(const std::string& token_id, UnixMillis now, RequestOrigin origin) {
  std::lock_guard<std::mutex> lock(mu_);
  latest_touch_ = std::max(latest_touch_, now);
  if (generation_start_ == 0) generation_start_ = now;
  // A token queued less than a window ago is in one of the two generations: each spans at
  // least a window, so anything older than the previous one is more than a window old.
  auto recent = [&](const Times& times) {
    auto it = times.find(token_id);
    return it != times.end() && now - it->second < window_;
  };
  if (recent(queued_now_) || recent(queued_before_)) return;
  queued_now_[token_id] = now;
  Use& use = pending_[token_id];
  use.at = now;
  use.address.assign(origin.address);
  use.user_agent = ClipUserAgent(origin.user_agent);
}

std::vector<store::ApiTokenUse> UsageRecorder::TakePending() {
  Times dropped;  // freed after the lock is released
  std::unordered_map<std::string, Use> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken.swap(pending_);
    // Generations span two windows: one for the proof above, one of slack for a request
    // thread whose clock reading lags the latest touch (dropping too early would only cost a
    // repeated write, but there is no need to).
    if (generation_start_ != 0 && latest_touch_ - generation_start_ >= 2 * window_) {
      dropped.swap(queued_before_);
      queued_before_.swap(queued_now_);
      generation_start_ = latest_touch_;
    }
  }
  std::vector<store::ApiTokenUse> out;
  out.reserve(taken.size());
  for (auto& [id, use] : taken) {
    out.push_back({id, use.at, std::move(use.address), std::move(use.user_agent)});
  }
  return out;
}

void UsageRecorder::Restore(const std::vector<store::ApiTokenUse>& usage) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const store::ApiTokenUse& u : usage) {
    auto [it, inserted] = pending_.try_emplace(u.id);
    if (inserted || u.at > it->second.at) it->second = Use{u.at, u.address, u.user_agent};
  }
}

size_t UsageRecorder::PendingCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

size_t UsageRecorder::TrackedCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_now_.size() + queued_before_.size();
}

}  // namespace cl::domain
