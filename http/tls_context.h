// The server's TLS context: TLS 1.2 and 1.3 only, forward-secret AEAD suites for 1.2, no
// renegotiation, no session tickets, certificate chain and key from PEM files. Includes Asio's
// SSL context: for the server's own translation units only.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "common/result.h"
#include "http/server.h"

namespace cl::http {

// Fails with InvalidArgument naming the file (never its contents) when a file cannot be loaded
// or the key does not match the certificate.
Result<std::unique_ptr<boost::asio::ssl::context>> MakeTlsContext(const ServerOptions& o);

}  // namespace cl::http
