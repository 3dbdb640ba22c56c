// smtp/tls_info.cc
#include "smtp/tls_info.h"

#include <openssl/crypto.h>

namespace mx::smtp {

std::string tls_library_version() { return OpenSSL_version(OPENSSL_VERSION); }

}  // namespace mx::smtp
