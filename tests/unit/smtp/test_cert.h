// tests/unit/smtp/test_cert.h — a self-signed P-256 certificate for "mx.test", made with the
// OpenSSL API in a temporary directory for the duration of the test binary.
#pragma once

#include <filesystem>

namespace mx::smtp::test {

struct TestCert {
  std::filesystem::path dir, cert, key;
  TestCert();
  ~TestCert();
};

const TestCert& test_cert();

}  // namespace mx::smtp::test
