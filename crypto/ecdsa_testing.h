// Test support: an in-memory EC private key that exports its public key as PEM and signs with
// ECDSA/SHA-256 in DER, the way a secret scanner (GitHub) signs its reports.
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct evp_pkey_st;

namespace cl::crypto {

class TestEcdsaKey {
 public:
  // `group`: an OpenSSL group name, "prime256v1" (P-256) or e.g. "secp384r1" for a wrong-curve key.
  static TestEcdsaKey Generate(const std::string& group = "prime256v1");
  std::string PublicPem() const;
  std::string SignDer(std::string_view message) const;

 private:
  std::shared_ptr<::evp_pkey_st> pkey_;
};

}  // namespace cl::crypto
