#include "common/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "common/log.h"
#include "common/trace_context.h"

namespace cl {
namespace {

struct Sink {
  std::string* body;
  size_t cap;
  bool overflow = false;
};

size_t WriteBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* sink = static_cast<Sink*>(userdata);
  size_t n = size * nmemb;
  if (sink->body->size() + n > sink->cap) {
    sink->body->append(ptr, sink->cap - sink->body->size());  // what fits (truncate_response)
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->body->append(ptr, n);
  return n;
}

size_t WriteHeader(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(userdata);
  std::string_view line(ptr, size * nmemb);
  auto colon = line.find(':');
  if (colon != std::string_view::npos && headers->size() < 200) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    headers->emplace_back(std::move(name), std::string(value));
  }
  return size * nmemb;
}

// CURLOPT_OPENSOCKETFUNCTION's state: the policy, and the first address it refused.
struct AddressGuard {
  const AddressPolicy* policy;
  std::string refused;
};

std::string PrintableAddress(const curl_sockaddr* address) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (address->family == AF_INET && address->addrlen >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
    if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf) != nullptr) return buf;
  } else if (address->family == AF_INET6 && address->addrlen >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address->addr);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf) != nullptr) return buf;
  }
  return {};
}

// Runs for every address curl is about to connect to (after DNS, before connect): refusing here
// is what makes the check hold for every resolution, not just one made beforehand.
curl_socket_t OpenGuardedSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* guard = static_cast<AddressGuard*>(clientp);
  std::string text = PrintableAddress(address);
  if (purpose != CURLSOCKTYPE_IPCXN || text.empty() || !guard->policy->Allows(text)) {
    if (guard->refused.empty()) guard->refused = text.empty() ? "(not an IP address)" : text;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string HttpClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

Result<HttpClientResponse> HttpFetch(const HttpClientRequest& req) {
  GlobalInit();
  CURL* curl = curl_easy_init();
  if (!curl) return Fail(Error::Internal("cannot initialise HTTP client"));
  HttpClientResponse resp;
  Sink sink{&resp.body, req.max_response_bytes};
  AddressGuard guard{req.address_policy, {}};
  struct curl_slist* headers = nullptr;
  for (const auto& [k, v] : req.headers)
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  // Do not send "Expect: 100-continue".
  headers = curl_slist_append(headers, "Expect:");
  // Within a request's scope, the call joins its trace (the IdP's logs can be matched with ours).
  if (std::string_view trace = ScopedLogContext::CurrentTraceId(); !trace.empty()) {
    headers = curl_slist_append(headers, ("traceparent: " + OutboundTraceparent(trace)).c_str());
  }

  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(req.timeout_ms, 5000L));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &resp.headers);
  if (req.method != "GET" && req.method != "HEAD") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }
  // "" disables proxies, including those named in the environment.
  if (req.no_proxy || req.address_policy != nullptr) curl_easy_setopt(curl, CURLOPT_PROXY, "");
  if (req.address_policy != nullptr) {
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, OpenGuardedSocket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &guard);
  }
  if (!req.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, req.ca_file.c_str());
  if (req.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK && !guard.refused.empty()) {
    return Fail(Error::PermissionDenied("address not allowed: " + guard.refused,
                                        Reason::kAddressNotAllowed));
  }
  if (sink.overflow && req.truncate_response && status > 0) {
    resp.status = static_cast<int>(status);
    resp.truncated = true;
    return resp;
  }
  if (sink.overflow) {
    return Fail(Error::PayloadTooLarge("response from " + req.url + " exceeds the size limit"));
  }
  if (rc != CURLE_OK) {
    // The URL is ours (never carries a secret): naming it helps the operator.
    return Fail(Error::Unavailable(std::string("request to ") + req.url +
                                   " failed: " + curl_easy_strerror(rc)));
  }
  resp.status = static_cast<int>(status);
  return resp;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out.push_back('&');
    out += UrlEncode(k);
    out.push_back('=');
    out += UrlEncode(v);
  }
  return out;
}

}  // namespace cl
