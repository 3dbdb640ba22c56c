// tests/unit/smtp/test_cert.cc
#include "tests/unit/smtp/test_cert.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace mx::smtp::test {

TestCert::TestCert() {
  namespace fs = std::filesystem;
  dir = fs::temp_directory_path() / ("mxgate-test-cert-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  cert = dir / "cert.pem";
  key = dir / "key.pem";
  EVP_PKEY* pk = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pk);
  X509_NAME* n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mx.test"), -1, -1, 0);
  X509_set_issuer_name(x, n);
  X509_sign(x, pk, EVP_sha256());
  FILE* f = std::fopen(cert.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key.c_str(), "w");
  PEM_write_PrivateKey(f, pk, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pk);
}

TestCert::~TestCert() { std::filesystem::remove_all(dir); }

const TestCert& test_cert() {
  static TestCert c;
  return c;
}

}  // namespace mx::smtp::test
