// tests/unit/dataplane/control_config_test.cc — [control] over TCP with mutual TLS: socket =
// "tcp:HOST:PORT" (an IP literal), the TLS files required with it and refused without it, paths
// relative to the config, the expected server name defaulting to HOST; every error names the
// file, line and key.
#include <gtest/gtest.h>

#include <string>

#include "dataplane/config.h"

namespace mx::cfg {
namespace {

const std::string kBase = R"([eal]
lcores = [0, 1]

[[port]]
name = "lab0"
vdev = "net_tap0,iface=mxtap0"
ipv4 = "198.18.0.2/24"

[dataplane]
net_lcores = [1]

[gateway]
tenants = "t"
av_database = "a"
log_file = "l"
spool_dir = "s"
quarantine_dir = "q"

[control]
node_name = "lab-1"
state_dir = "state"
)";

Expected<Config> parse(const std::string& control_keys) {
  return parse_config(kBase + control_keys, "/etc/mxgate/mxgate.toml");
}

const std::string kTlsFiles = "tls_ca = \"ca.pem\"\ntls_cert = \"node.pem\"\ntls_key = \"/k/node.key\"\n";

TEST(ControlConfig, TcpWithTheTlsFiles) {
  auto c = parse("socket = \"tcp:192.0.2.7:7443\"\n" + kTlsFiles);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->control.tcp);
  EXPECT_EQ(c->control.address, "192.0.2.7:7443");
  EXPECT_EQ(c->control.tls_ca, "/etc/mxgate/ca.pem");
  EXPECT_EQ(c->control.tls_cert, "/etc/mxgate/node.pem");
  EXPECT_EQ(c->control.tls_key, "/k/node.key");
  EXPECT_EQ(c->control.tls_server_name, "192.0.2.7");  // the certificate's IP addresses, then
  EXPECT_EQ(c->control.state_dir, "/etc/mxgate/state");

  auto named = parse("socket = \"tcp:[2001:db8::7]:7443\"\n" + kTlsFiles + "tls_server_name = \"control.example\"\n");
  ASSERT_TRUE(named) << named.error().message;
  EXPECT_EQ(named->control.address, "[2001:db8::7]:7443");
  EXPECT_EQ(named->control.tls_server_name, "control.example");
}

TEST(ControlConfig, UnixSocketIsUnchanged) {
  auto c = parse("socket = \"control.sock\"\n");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->control.tcp);
  EXPECT_EQ(c->control.socket, "/etc/mxgate/control.sock");
}

TEST(ControlConfig, Errors) {
  struct Case {
    std::string keys, says;
  };
  const Case cases[] = {
      {"socket = \"tcp:control.example:7443\"\n" + kTlsFiles, "key 'socket'"},  // no name lookups
      {"socket = \"tcp:192.0.2.7\"\n" + kTlsFiles, "key 'socket'"},
      {"socket = \"tcp:192.0.2.7:0\"\n" + kTlsFiles, "key 'socket'"},
      {"socket = \"tcp:192.0.2.7:65536\"\n" + kTlsFiles, "key 'socket'"},
      {"socket = \"tcp:2001:db8::7:7443\"\n" + kTlsFiles, "key 'socket'"},  // IPv6 needs brackets
      {"socket = \"tcp:192.0.2.7:7443\"\ntls_cert = \"c\"\ntls_key = \"k\"\n", "key 'tls_ca' is required"},
      {"socket = \"tcp:192.0.2.7:7443\"\ntls_ca = \"a\"\ntls_key = \"k\"\n", "key 'tls_cert' is required"},
      {"socket = \"tcp:192.0.2.7:7443\"\ntls_ca = \"a\"\ntls_cert = \"c\"\n", "key 'tls_key' is required"},
      {"socket = \"tcp:192.0.2.7:7443\"\n" + kTlsFiles + "tls_server_name = \"a b\"\n", "key 'tls_server_name'"},
      {"socket = \"control.sock\"\ntls_ca = \"a\"\n", "key 'tls_ca': only with socket = \"tcp:HOST:PORT\""},
      {"socket = \"control.sock\"\ntls_server_name = \"x\"\n", "key 'tls_server_name'"},
  };
  for (const Case& k : cases) {
    auto c = parse(k.keys);
    ASSERT_FALSE(c) << k.keys;
    EXPECT_NE(c.error().message.find(k.says), std::string::npos) << k.keys << " -> " << c.error().message;
    EXPECT_EQ(c.error().message.rfind("/etc/mxgate/mxgate.toml:", 0), 0u) << c.error().message;
  }
}

}  // namespace
}  // namespace mx::cfg
