// common/tcp_address.h — "HOST:PORT" where HOST is an IP literal: a dotted-quad IPv4 address or
// a bracketed IPv6 one ("[::1]:7443"). The form the control channel's TCP ends take (mxgate's
// [control] socket = "tcp:...", mxgate-control's --node-listen and --api-listen).
//
// Why literals only: mxgate's main thread connects without ever blocking, and a name lookup
// (getaddrinfo) blocks; the name control's certificate must carry is configured on its own
// (docs/config.md, [control] tls_server_name).
//
// SECURITY: the text comes from the operator's config or command line; it is parsed strictly
// (inet_pton, decimal port without sign or blanks) and nothing else is accepted.
// STANDARDS: RFC 3986 3.2.2 (the bracketed IPv6 literal), RFC 4291 2.2 (its text forms).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace mx {

constexpr size_t kMaxTcpAddressText = 64;  // "[" + the longest IPv6 text + "]:65535" fits

struct TcpAddress {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string host;  // the literal, without brackets
  uint16_t port = 0;
  bool v6 = false;

  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&ss); }
  std::string to_string() const { return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port); }

  // `text` as HOST:PORT; port 0 only when `allow_port_zero` (a listener taking any free port).
  static std::optional<TcpAddress> parse(std::string_view text, bool allow_port_zero = false) {
    if (text.empty() || text.size() > kMaxTcpAddressText) return std::nullopt;
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == text.size() || colon + 6 < text.size()) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    uint32_t p = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p > 65535 || (p == 0 && !allow_port_zero) || (port.size() > 1 && port[0] == '0')) return std::nullopt;
    TcpAddress a;
    a.port = static_cast<uint16_t>(p);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      a.host = std::string(host.substr(1, host.size() - 2));
      sockaddr_in6 s6{};
      s6.sin6_family = AF_INET6;
      s6.sin6_port = htons(a.port);
      if (a.host.find('%') != std::string::npos || inet_pton(AF_INET6, a.host.c_str(), &s6.sin6_addr) != 1)
        return std::nullopt;
      std::memcpy(&a.ss, &s6, sizeof s6);
      a.len = sizeof s6;
      a.v6 = true;
      return a;
    }
    a.host = std::string(host);
    sockaddr_in s4{};
    s4.sin_family = AF_INET;
    s4.sin_port = htons(a.port);
    // inet_pton takes only the full dotted quad (no "127.1", no octal): what an operator means.
    if (inet_pton(AF_INET, a.host.c_str(), &s4.sin_addr) != 1) return std::nullopt;
    std::memcpy(&a.ss, &s4, sizeof s4);
    a.len = sizeof s4;
    return a;
  }
};

}  // namespace mx
