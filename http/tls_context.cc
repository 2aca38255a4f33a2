// Building the server's TLS context from its options (OpenSSL through Asio's SSL context).
#include "http/tls_context.h"

#include <openssl/ssl.h>

#include <boost/beast/core/error.hpp>
#include <string>

namespace cl::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

// TLS 1.2 and 1.3 only; for 1.2 only forward-secret AEAD suites (1.3's suites all are).
Result<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const ServerOptions& o) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  beast::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression |
                       asio::ssl::context::single_dh_use,
                   ec);
  SSL_CTX* native = ctx->native_handle();
  if (ec || SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return Fail(Error::Internal("cannot configure TLS"));
  }
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  // Session tickets would need key rotation across instances; full handshakes are cheap enough.
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) {
    return Fail(Error::InvalidArgument("cannot load the TLS certificate chain " + o.tls_cert_file +
                                       ": " + ec.message()));
  }
  // The message names the file, never its contents.
  ctx->use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) {
    return Fail(Error::InvalidArgument("cannot load the TLS private key " + o.tls_key_file + ": " +
                                       ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Fail(Error::InvalidArgument("the TLS private key " + o.tls_key_file +
                                       " does not match the certificate " + o.tls_cert_file));
  }
  return ctx;
}

}  // namespace cl::http
