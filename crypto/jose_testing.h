// Test support: in-memory signing keys that publish a JWK and mint signed JWTs, for tests of
// OIDC login, CI token exchange and the JOSE layer itself. Never linked into production code.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// OpenSSL's EVP_PKEY, declared here so this header does not pull in OpenSSL.
struct evp_pkey_st;

namespace cl::crypto {

// A private key (RSA or EC P-256) with a kid. Copies share the same key (reference counted).
// Key generation aborts on failure: it cannot fail with a working OpenSSL.
class TestSigningKey {
 public:
  // RS256 key, 2048 bits unless `bits` says otherwise (smaller sizes test key-size rejection).
  static TestSigningKey GenerateRsa(std::string kid, int bits = 2048);
  // ES256 key on P-256.
  static TestSigningKey GenerateEcP256(std::string kid);

  // The public JWK: {"kty","kid","use":"sig","alg", n/e or crv/x/y}.
  std::string PublicJwkJson() const;
  boost::json::object PublicJwk() const;

  // Builds the header {alg, typ:"JWT", kid}, merges `header_extra` into it (a member set to
  // null is removed, so {"kid": null} mints a token without kid; {"alg": "ES256"} lies about the
  // alg while still signing with this key's algorithm), and signs header.claims.
  std::string Sign(const boost::json::object& header_extra,
                   const boost::json::object& claims) const;
  // Signs exactly the given header and payload texts (may be invalid JSON, for negative tests).
  std::string SignRaw(std::string_view header_json, std::string_view payload_json) const;
  // The raw JWS signature (RS256: PKCS#1 v1.5; ES256: r||s) over `signing_input`.
  std::string SignatureOver(std::string_view signing_input) const;

  std::string alg() const { return alg_; }
  const std::string& kid() const { return kid_; }

 private:
  TestSigningKey() = default;
  std::shared_ptr<::evp_pkey_st> pkey_;
  std::string kid_, alg_;
};

// {"keys":[...]} with each key's public JWK.
std::string JwksJson(const std::vector<const TestSigningKey*>& keys);

}  // namespace cl::crypto
