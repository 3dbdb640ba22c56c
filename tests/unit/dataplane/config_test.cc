// tests/unit/dataplane/config_test.cc — the config schema: every error names file, line, key.
#include "dataplane/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace mx::cfg {
namespace {

const char* kGood = R"([eal]
lcores = [0, 1]
main_lcore = 0

[[port]]
name = "lab0"
vdev = "net_tap0,iface=mxtap0"
ipv4 = "198.18.0.2/24"
ipv6 = "2001:db8::2/64"

[dataplane]
net_lcores = [1]
)";

TEST(Config, ParsesAMinimalConfigWithDefaults) {
  auto c = parse_config(kGood, "good.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->eal.lcores, (std::vector<uint32_t>{0, 1}));
  EXPECT_FALSE(c->eal.hugepages);
  ASSERT_EQ(c->ports.size(), 1u);
  EXPECT_EQ(c->ports[0].ipv4.addr.to_string(), "198.18.0.2");
  EXPECT_EQ(c->ports[0].ipv4.len, 24);
  ASSERT_TRUE(c->ports[0].ipv6);
  EXPECT_EQ(c->ports[0].ipv6->addr.to_string(), "2001:db8::2");
  EXPECT_EQ(c->ports[0].mtu, 1500);
  EXPECT_EQ(c->dataplane.net_lcores, (std::vector<uint32_t>{1}));
  EXPECT_EQ(c->dataplane.idle, IdleMode::kAdaptive);
  EXPECT_EQ(c->dataplane.burst, 32u);
}

TEST(Config, TheShippedLabConfigIsValid) {
  auto c = load_config(MX_SOURCE_ROOT "/config/lab.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->ports[0].vdev, "net_tap0,iface=mxtap0");
  EXPECT_EQ(c->ports[0].ipv4.addr.to_string(), "198.18.0.2");
}

TEST(Config, MissingFileIsAClearError) {
  auto c = load_config("/nonexistent/mxgate.toml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "/nonexistent/mxgate.toml: cannot open config file");
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  return s.replace(p, from.size(), to);
}

struct Case {
  std::string from, to, message;
};

class ConfigErrors : public ::testing::TestWithParam<Case> {};

TEST_P(ConfigErrors, NameFileLineAndKey) {
  auto c = parse_config(replace(kGood, GetParam().from, GetParam().to), "c.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(GetParam().message), std::string::npos) << c.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    All, ConfigErrors,
    ::testing::Values(
        Case{"main_lcore = 0", "main_lcore = 0\nbogus = 1", "c.toml:4: [eal] unknown key 'bogus'"},
        Case{"ipv4 = \"198.18.0.2/24\"", "ipv4 = \"198.18.0.300/24\"",
             "c.toml:8: [port] key 'ipv4': '198.18.0.300/24' is not a unicast IPv4"},
        Case{"ipv4 = \"198.18.0.2/24\"", "ipv4 = \"198.18.0.2\"", "c.toml:8: [port] key 'ipv4'"},
        Case{"ipv4 = \"198.18.0.2/24\"", "ipv4 = \"224.0.0.1/24\"", "c.toml:8: [port] key 'ipv4'"},
        Case{"ipv4 = \"198.18.0.2/24\"", "ipv4 = 5", "c.toml:8: [port] key 'ipv4': expected a string, got an integer"},
        Case{"ipv4 = \"198.18.0.2/24\"\n", "", "c.toml:5: [port] missing key 'ipv4'"},
        Case{"ipv6 = \"2001:db8::2/64\"", "ipv6 = \"2001:db8::zz/64\"", "c.toml:9: [port] key 'ipv6'"},
        Case{"ipv6 = \"2001:db8::2/64\"", "ipv6 = \"ff02::1/64\"", "c.toml:9: [port] key 'ipv6'"},
        Case{"lcores = [0, 1]", "lcores = [0, 1, 1]", "c.toml:2: [eal] key 'lcores': 1 listed twice"},
        Case{"lcores = [0, 1]", "lcores = []", "[eal] key 'lcores': needs at least one lcore"},
        Case{"lcores = [0, 1]\n", "", "c.toml:1: [eal] missing key 'lcores'"},
        Case{"main_lcore = 0", "main_lcore = 5", "[eal] key 'main_lcore': lcore 5 is not in lcores"},
        Case{"net_lcores = [1]", "net_lcores = [0]", "[dataplane] key 'net_lcores': lcore 0 must be in [eal] lcores"},
        Case{"net_lcores = [1]", "net_lcores = [7]", "[dataplane] key 'net_lcores': lcore 7 must be in"},
        Case{"net_lcores = [1]", "net_lcores = [1]\nidle = \"spin\"", "c.toml:13: [dataplane] key 'idle'"},
        Case{"net_lcores = [1]", "net_lcores = [1]\nburst = 65", "c.toml:13: [dataplane] key 'burst': 65 is out of range 1..64"},
        Case{"net_lcores = [1]", "net_lcores = [1]\nmbufs = 10", "key 'mbufs': 10 is out of range"},
        Case{"vdev = \"net_tap0,iface=mxtap0\"", "vdev = \"net_tap0,iface=mxtap0\"\npci = \"0000:01:00.0\"",
             "[[port]] 'lab0': set exactly one of 'vdev' and 'pci'"},
        Case{"vdev = \"net_tap0,iface=mxtap0\"", "pci = \"01:00.0\"", "c.toml:7: [port] key 'pci': '01:00.0' is not a PCI"},
        Case{"vdev = \"net_tap0,iface=mxtap0\"", "vdev = \"tap0 ; rm -rf /\"", "c.toml:7: [port] key 'vdev'"},
        Case{"name = \"lab0\"", "name = \"lab0\"\nmac = \"01:00:5e:00:00:01\"", "c.toml:7: [port] key 'mac'"},
        Case{"name = \"lab0\"", "name = \"lab0\"\nmac = \"02:00:00:00:00\"", "c.toml:7: [port] key 'mac'"},
        Case{"[dataplane]", "[dataplan]", "c.toml:11: unknown section [dataplan]"},
        Case{"[eal]", "x = 1\n[eal]", "c.toml:1: unknown key 'x' outside any section"},
        Case{"[[port]]", "[port]", "unknown section [port]"},
        Case{"[dataplane]\nnet_lcores = [1]\n", "", "c.toml: missing section [dataplane]"},
        Case{"name = \"lab0\"", "name = \"lab0\"\nmtu = 100", "c.toml:7: [port] key 'mtu': 100 is out of range 576..9000"},
        Case{"main_lcore = 0", "main_lcore = 0\nlog_level = \"loud\"", "c.toml:4: [eal] key 'log_level'"},
        Case{"main_lcore = 0", "main_lcore = 0\nfile_prefix = \"../x\"", "c.toml:4: [eal] key 'file_prefix'"},
        Case{"main_lcore = 0", "main_lcore = -1", "c.toml:3: [eal] key 'main_lcore': -1 is out of range"},
        Case{"net_lcores = [1]\n", "net_lcores = [1]\n[tcp]\nservices = [\"echo\", \"telnet\"]\n",
             "c.toml:14: [tcp] key 'services': 'telnet' is not one of discard, echo, chargen"},
        Case{"net_lcores = [1]\n", "net_lcores = [1]\n[tcp]\nsource_to = \"198.18.0.1\"\nsource_bytes = 5\n",
             "c.toml:14: [tcp] key 'source_to': '198.18.0.1' is not IPv4:port"},
        Case{"net_lcores = [1]\n", "net_lcores = [1]\n[tcp]\nsource_to = \"198.18.0.1:99999\"\nsource_bytes = 5\n",
             "[tcp] key 'source_to'"},
        Case{"net_lcores = [1]\n", "net_lcores = [1]\n[tcp]\nsource_bytes = 5\n", "[tcp] missing key 'source_to'"},
        Case{"net_lcores = [1]\n", "net_lcores = [1]\n[tcp]\nmax_conns = 1\n", "[tcp] key 'max_conns': 1 is out of range"},
        Case{"net_lcores = [1]\n", "net_lcores = [1]\n[tcp]\nwindow = 1\n", "[tcp] unknown key 'window'"},
        Case{"name = \"lab0\"", "name = \"lab0\"\nimpair_drop_ppm = 600000", "[port] key 'impair_drop_ppm': 600000 is out of range"}));

TEST(Config, TcpSectionAndImpairmentKeys) {
  std::string text = replace(kGood, "name = \"lab0\"", "name = \"lab0\"\nimpair_drop_ppm = 10000\nimpair_seed = 9");
  text += "[tcp]\nmax_conns = 100\nservices = [\"discard\", \"chargen\"]\nsource_to = \"198.18.0.1:5001\"\n"
          "source_bytes = 1000\nkeepalive_idle_s = 60\n";
  auto c = parse_config(text, "t.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tcp.max_conns, 100u);
  EXPECT_EQ(c->tcp.services, 1u | 4u);
  ASSERT_TRUE(c->tcp.source_ip);
  EXPECT_EQ(c->tcp.source_ip->to_string(), "198.18.0.1");
  EXPECT_EQ(c->tcp.source_port, 5001);
  EXPECT_EQ(c->tcp.source_bytes, 1000u);
  EXPECT_EQ(c->tcp.keepalive_idle_s, 60u);
  EXPECT_EQ(c->ports[0].impair_drop_ppm, 10000u);
  EXPECT_EQ(c->ports[0].impair_seed, 9u);
}

TEST(Config, NoPortIsAnError) {
  auto c = parse_config("[eal]\nlcores = [0, 1]\n[dataplane]\nnet_lcores = [1]\n", "np.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("no [[port]] section"), std::string::npos);
}

TEST(Config, DuplicatePortsAreAnError) {
  std::string two = replace(kGood, "[dataplane]",
                            "[[port]]\nname = \"lab0\"\nvdev = \"net_tap1\"\nipv4 = \"198.18.1.2/24\"\n[dataplane]");
  auto c = parse_config(two, "dup.toml");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("dup.toml:11: [[port]] 'lab0' repeats the name or address of the port on line 5"),
            std::string::npos)
      << c.error().message;
}


TEST(Config, GatewaySectionPathsAreRelativeToTheConfigFile) {
  std::string text = std::string(kGood) + R"(
[gateway]
tenants = "tenants.toml"
av_database = "/var/lib/clamav"
log_file = "log/tx.log"
quarantine_dir = "q"
spool_dir = "/var/spool/mxgate"
bounce_route = "198.18.0.1:2525"
tls_cert = "c.pem"
tls_key = "k.pem"
scan_cpu = 0
)";
  auto c = parse_config(text, "/etc/mxgate/mxgate.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->gateway.enabled);
  EXPECT_EQ(c->gateway.smtp_port, 25);
  EXPECT_EQ(c->gateway.tenants, "/etc/mxgate/tenants.toml");
  EXPECT_EQ(c->gateway.av_database, "/var/lib/clamav");
  EXPECT_EQ(c->gateway.log_file, "/etc/mxgate/log/tx.log");
  EXPECT_EQ(c->gateway.quarantine_dir, "/etc/mxgate/q");
  EXPECT_EQ(c->gateway.spool_dir, "/var/spool/mxgate");
  ASSERT_TRUE(c->gateway.bounce_ip);
  EXPECT_EQ(c->gateway.bounce_ip->to_string(), "198.18.0.1");
  EXPECT_EQ(c->gateway.bounce_port, 2525);
  EXPECT_EQ(c->gateway.spool_retry_min_s, 60u);
  ASSERT_TRUE(c->gateway.scan_cpu);
  EXPECT_EQ(*c->gateway.scan_cpu, 0u);
  auto none = parse_config(kGood, "x.toml");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->gateway.enabled);
}

TEST(Config, GatewaySectionErrorsNameTheKey) {
  const std::string base =
      std::string(kGood) + "\n[gateway]\ntenants = \"t\"\nav_database = \"a\"\nlog_file = \"l\"\nspool_dir = \"s\"\n";
  auto missing = parse_config(base, "g.toml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("missing key 'quarantine_dir'"), std::string::npos) << missing.error().message;
  auto port = parse_config(base + "quarantine_dir = \"q\"\nsmtp_port = 70000\n", "g.toml");
  ASSERT_FALSE(port);
  EXPECT_NE(port.error().message.find("key 'smtp_port'"), std::string::npos) << port.error().message;
  auto host = parse_config(base + "quarantine_dir = \"q\"\nhostname = \"a b\"\n", "g.toml");
  ASSERT_FALSE(host);
  EXPECT_NE(host.error().message.find("is not a host name"), std::string::npos) << host.error().message;
  auto half = parse_config(base + "quarantine_dir = \"q\"\ntls_cert = \"c\"\n", "g.toml");
  ASSERT_FALSE(half);
  EXPECT_NE(half.error().message.find("tls_cert and tls_key go together"), std::string::npos);
  auto retry = parse_config(base + "quarantine_dir = \"q\"\nspool_retry_min_s = 100\nspool_retry_max_s = 10\n", "g.toml");
  ASSERT_FALSE(retry);
  EXPECT_NE(retry.error().message.find("is below spool_retry_min_s"), std::string::npos) << retry.error().message;
  auto bounce = parse_config(base + "quarantine_dir = \"q\"\nbounce_route = \"mx.example:25\"\n", "g.toml");
  ASSERT_FALSE(bounce);
  EXPECT_NE(bounce.error().message.find("key 'bounce_route'"), std::string::npos) << bounce.error().message;
  auto unknown = parse_config(base + "quarantine_dir = \"q\"\nspool = true\n", "g.toml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown key 'spool'"), std::string::npos);
}

// [control]: the channel to mxgate-control; paths relative to the config; the node name checked.
TEST(Config, ControlSection) {
  const std::string gw = std::string(kGood) +
                         "\n[gateway]\ntenants = \"t\"\nav_database = \"a\"\nlog_file = \"l\"\nspool_dir = \"s\"\nquarantine_dir = \"q\"\n";
  auto c = parse_config(gw + "\n[control]\nsocket = \"control.sock\"\nnode_name = \"lab-1\"\nstate_dir = \"/var/lib/mxgate\"\n",
                        "/etc/mxgate/mxgate.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->control.enabled);
  EXPECT_EQ(c->control.socket, "/etc/mxgate/control.sock");
  EXPECT_EQ(c->control.node_name, "lab-1");
  EXPECT_EQ(c->control.state_dir, "/var/lib/mxgate");
  EXPECT_FALSE(parse_config(gw, "x.toml")->control.enabled);
  auto missing = parse_config(gw + "\n[control]\nsocket = \"s\"\nnode_name = \"n\"\n", "c.toml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("missing key 'state_dir'"), std::string::npos) << missing.error().message;
  auto name = parse_config(gw + "\n[control]\nsocket = \"s\"\nnode_name = \"a b\"\nstate_dir = \"d\"\n", "c.toml");
  ASSERT_FALSE(name);
  EXPECT_NE(name.error().message.find("key 'node_name'"), std::string::npos) << name.error().message;
  auto alone = parse_config(std::string(kGood) + "\n[control]\nsocket = \"s\"\nnode_name = \"n\"\nstate_dir = \"d\"\n", "c.toml");
  ASSERT_FALSE(alone);
  EXPECT_NE(alone.error().message.find("[control] needs a [gateway]"), std::string::npos) << alone.error().message;
}

}  // namespace
}  // namespace mx::cfg
