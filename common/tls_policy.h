// common/tls_policy.h — how a connection to a tenant's server uses TLS. A vocabulary type: the
// tenant snapshot (ipc/) carries it and the SMTP client (smtp/) obeys it.
#pragma once

#include <cstdint>

namespace mx {

enum class TlsPolicy : uint8_t {
  kNone,            // never STARTTLS
  kOpportunistic,   // STARTTLS when offered; continue in clear if it is not
  kRequired,        // STARTTLS or nothing (certificate not checked)
  kRequiredVerify,  // STARTTLS with a certificate that matches the route's name, or nothing
};

}  // namespace mx
