// smtp/tls_info.h — facts about the TLS library STARTTLS is built on.
#pragma once

#include <string>

namespace mx::smtp {

// The linked OpenSSL's version text, e.g. "OpenSSL 3.0.19 ...".
std::string tls_library_version();

}  // namespace mx::smtp
