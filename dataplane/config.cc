// dataplane/config.cc — schema of mxgate's TOML config: known keys, types, ranges, and the
// cross-checks between sections. Each error names the file, the line and the key.
#include "dataplane/config.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "common/tcp_address.h"
#include "ipc/toml.h"
#include "ipc/toml_reader.h"

namespace mx::cfg {
namespace {

using Kind = TomlValue::Kind;

using Reader = TomlReader;

bool valid_pci(const std::string& s) {
  // Domain:Bus:Device.Function, e.g. 0000:01:00.0
  if (s.size() != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11})
    if (!std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

bool valid_vdev(const std::string& s) {
  if (s.rfind("net_", 0) != 0 || s.size() > 256) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_,=.:-/", c);
  });
}

std::optional<Error> read_eal(const std::string& src, const TomlTable& t, EalConfig& e) {
  Reader r(src, t);
  if (auto err = r.unknown_keys({"lcores", "main_lcore", "hugepages", "memory_mb", "in_memory",
                                 "file_prefix", "log_level", "extra_args"}))
    return err;
  if (auto err = r.missing("lcores")) return err;
  std::optional<Error> err;
  r.uint_list("lcores", e.lcores, kMaxLcores - 1, err);
  r.uint("main_lcore", e.main_lcore, 0, kMaxLcores - 1, err);
  r.boolean("hugepages", e.hugepages, err);
  r.uint("memory_mb", e.memory_mb, 64, 1u << 20, err);
  r.boolean("in_memory", e.in_memory, err);
  r.str("file_prefix", e.file_prefix, err);
  r.str("log_level", e.log_level, err);
  r.str_list("extra_args", e.extra_args, err);
  if (err) return err;
  static const char* kLevels[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
  if (std::find_if(std::begin(kLevels), std::end(kLevels), [&](const char* l) { return e.log_level == l; }) ==
      std::end(kLevels))
    return Error{r.where(*r.raw("log_level"), "log_level") + "'" + e.log_level +
                 "' is not one of emerg, alert, crit, error, warning, notice, info, debug"};
  if (e.file_prefix.empty() || e.file_prefix.size() > 32 ||
      !std::all_of(e.file_prefix.begin(), e.file_prefix.end(),
                   [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }))
    return Error{r.where(*r.raw("file_prefix"), "file_prefix") + "use 1..32 of [A-Za-z0-9_-]"};
  if (e.lcores.empty()) return Error{r.where(*r.raw("lcores"), "lcores") + "needs at least one lcore"};
  if (std::find(e.lcores.begin(), e.lcores.end(), e.main_lcore) == e.lcores.end())
    return Error{src + ":" + std::to_string(t.line) + ": [eal] key 'main_lcore': lcore " +
                 std::to_string(e.main_lcore) + " is not in lcores"};
  return std::nullopt;
}

std::optional<Error> read_port(const std::string& src, const TomlTable& t, PortConfig& p) {
  Reader r(src, t);
  if (auto err = r.unknown_keys({"name", "vdev", "pci", "ipv4", "ipv6", "mac", "mtu", "rx_desc", "tx_desc",
                                 "impair_drop_ppm", "impair_reorder_ppm", "impair_dup_ppm", "impair_seed"}))
    return err;
  for (const char* k : {"name", "ipv4"})
    if (auto err = r.missing(k)) return err;
  p.line = t.line;
  std::optional<Error> err;
  std::string v4, v6, mac;
  r.str("name", p.name, err);
  r.str("vdev", p.vdev, err);
  r.str("pci", p.pci, err);
  r.str("ipv4", v4, err);
  r.str("ipv6", v6, err);
  r.str("mac", mac, err);
  r.uint("mtu", p.mtu, 576, 9000, err);
  r.uint("rx_desc", p.rx_desc, 64, 16384, err);
  r.uint("tx_desc", p.tx_desc, 64, 16384, err);
  r.uint("impair_drop_ppm", p.impair_drop_ppm, 0, 500000, err);
  r.uint("impair_reorder_ppm", p.impair_reorder_ppm, 0, 500000, err);
  r.uint("impair_dup_ppm", p.impair_dup_ppm, 0, 500000, err);
  r.uint("impair_seed", p.impair_seed, 0, UINT64_MAX >> 1, err);
  if (err) return err;
  if (p.vdev.empty() == p.pci.empty())
    return Error{src + ":" + std::to_string(t.line) + ": [[port]] '" + p.name +
                 "': set exactly one of 'vdev' and 'pci'"};
  if (!p.vdev.empty() && !valid_vdev(p.vdev))
    return Error{r.where(*r.raw("vdev"), "vdev") + "'" + p.vdev + "' is not a DPDK net vdev like net_tap0,iface=mxtap0"};
  if (!p.pci.empty() && !valid_pci(p.pci))
    return Error{r.where(*r.raw("pci"), "pci") + "'" + p.pci + "' is not a PCI address like 0000:01:00.0"};
  auto a4 = Ipv4Prefix::parse(v4);
  if (!a4 || a4->addr.is_zero() || a4->addr.is_multicast() || a4->addr.is_loopback() || a4->len == 0)
    return Error{r.where(*r.raw("ipv4"), "ipv4") + "'" + v4 + "' is not a unicast IPv4 address with prefix, like 198.18.0.2/24"};
  p.ipv4 = *a4;
  if (r.raw("ipv6")) {
    auto a6 = Ipv6Prefix::parse(v6);
    if (!a6 || a6->len == 0 || a6->addr.b[0] == 0xff)
      return Error{r.where(*r.raw("ipv6"), "ipv6") + "'" + v6 + "' is not a unicast IPv6 address with prefix, like 2001:db8::2/64"};
    p.ipv6 = *a6;
  }
  if (r.raw("mac")) {
    auto m = MacAddr::parse(mac);
    if (!m || m->is_multicast() || m->is_zero())
      return Error{r.where(*r.raw("mac"), "mac") + "'" + mac + "' is not a unicast MAC like 02:6d:78:00:00:01"};
    p.mac = *m;
  }
  return std::nullopt;
}

std::optional<Error> read_dataplane(const std::string& src, const TomlTable& t, DataplaneConfig& d) {
  Reader r(src, t);
  if (auto err = r.unknown_keys({"net_lcores", "idle", "idle_sleep_max_us", "idle_polls_before_sleep", "burst",
                                 "mbufs", "arp_entries", "arp_reachable_s"}))
    return err;
  if (auto err = r.missing("net_lcores")) return err;
  std::optional<Error> err;
  std::string idle = "adaptive";
  r.uint_list("net_lcores", d.net_lcores, kMaxLcores - 1, err);
  r.str("idle", idle, err);
  r.uint("idle_sleep_max_us", d.idle_sleep_max_us, 1, 100000, err);
  r.uint("idle_polls_before_sleep", d.idle_polls_before_sleep, 1, 1u << 20, err);
  r.uint("burst", d.burst, 1, kMaxBurst, err);
  r.uint("mbufs", d.mbufs, kMinMbufs, kMaxMbufs, err);
  r.uint("arp_entries", d.arp_entries, 8, 1u << 20, err);
  r.uint("arp_reachable_s", d.arp_reachable_s, 1, 86400, err);
  if (err) return err;
  if (idle == "adaptive") d.idle = IdleMode::kAdaptive;
  else if (idle == "poll") d.idle = IdleMode::kPoll;
  else return Error{r.where(*r.raw("idle"), "idle") + "'" + idle + "' is not 'adaptive' or 'poll'"};
  if (d.net_lcores.empty()) return Error{r.where(*r.raw("net_lcores"), "net_lcores") + "needs at least one lcore"};
  return std::nullopt;
}

std::optional<Error> read_tcp(const std::string& src, const TomlTable& t, TcpSection& c) {
  Reader r(src, t);
  if (auto err = r.unknown_keys({"max_conns", "buffer_blocks", "rx_segs", "rcv_buf", "snd_buf", "syn_backlog",
                                 "accept_backlog", "msl_s", "keepalive_idle_s", "persist_timeout_s", "services", "source_to", "source_bytes", "source_after_ms"}))
    return err;
  std::optional<Error> err;
  std::vector<std::string> services;
  std::string source;
  r.uint("max_conns", c.max_conns, 16, kMaxTcpConns, err);
  r.uint("buffer_blocks", c.buffer_blocks, 64, 1u << 22, err);
  r.uint("rx_segs", c.rx_segs, 64, 1u << 22, err);
  r.uint("rcv_buf", c.rcv_buf, 4096, 16u << 20, err);
  r.uint("snd_buf", c.snd_buf, 4096, 16u << 20, err);
  r.uint("syn_backlog", c.syn_backlog, 1, 65535, err);
  r.uint("accept_backlog", c.accept_backlog, 1, 65535, err);
  r.uint("msl_s", c.msl_s, 1, 120, err);
  r.uint("keepalive_idle_s", c.keepalive_idle_s, 0, 86400, err);
  r.uint("persist_timeout_s", c.persist_timeout_s, 1, 86400, err);
  r.str_list("services", services, err);
  r.str("source_to", source, err);
  r.uint("source_bytes", c.source_bytes, 1, 1ull << 40, err);
  r.uint("source_after_ms", c.source_after_ms, 0, 600000, err);
  if (err) return err;
  for (const std::string& name : services) {
    const uint32_t bit = name == "discard" ? 1u : name == "echo" ? 2u : name == "chargen" ? 4u : 0u;
    if (!bit)
      return Error{r.where(*r.raw("services"), "services") + "'" + name + "' is not one of discard, echo, chargen"};
    c.services |= bit;
  }
  if (r.raw("source_to")) {
    auto ep = parse_ipv4_port(source, 0);
    if (!ep) return Error{r.where(*r.raw("source_to"), "source_to") + "'" + source + "' is not IPv4:port like 198.18.0.1:5001"};
    c.source_ip = ep->first;
    c.source_port = ep->second;
    if (!r.raw("source_bytes")) return r.missing("source_bytes");
  } else if (r.raw("source_bytes")) {
    return r.missing("source_to");
  }
  return std::nullopt;
}

// Paths in [gateway] are relative to the config file's directory.
std::string resolve_path(const std::string& config_path, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  const size_t slash = config_path.rfind('/');
  return slash == std::string::npos ? p : config_path.substr(0, slash + 1) + p;
}

std::optional<Error> read_gateway(const std::string& src, const TomlTable& t, GatewaySection& g) {
  Reader r(src, t);
  if (auto err = r.unknown_keys({"smtp_port", "hostname", "tenants", "tls_cert", "tls_key", "av_database", "log_file",
                                 "quarantine_dir", "spool_dir", "spool_retry_min_s", "spool_retry_max_s",
                                 "spool_lifetime_s", "bounce_route", "av_threads", "scan_cpu", "max_sessions",
                                 "max_message_size", "message_memory_mb", "lcore_message_memory_mb",
                                 "output_stall_s", "io_ring_size"}))
    return err;
  for (const char* k : {"tenants", "av_database", "log_file", "quarantine_dir", "spool_dir"})
    if (auto err = r.missing(k)) return err;
  std::optional<Error> err;
  g.enabled = true;
  g.line = t.line;
  uint32_t cpu = 0;
  r.uint("smtp_port", g.smtp_port, 1, 65535, err);
  r.str("hostname", g.hostname, err);
  r.str("tenants", g.tenants, err);
  r.str("tls_cert", g.tls_cert, err);
  r.str("tls_key", g.tls_key, err);
  r.str("av_database", g.av_database, err);
  r.str("log_file", g.log_file, err);
  r.str("quarantine_dir", g.quarantine_dir, err);
  r.str("spool_dir", g.spool_dir, err);
  r.uint("spool_retry_min_s", g.spool_retry_min_s, 1, 86400, err);
  r.uint("spool_retry_max_s", g.spool_retry_max_s, 1, 7 * 86400, err);
  r.uint("spool_lifetime_s", g.spool_lifetime_s, 1, 30 * 86400, err);
  std::string bounce;
  r.str("bounce_route", bounce, err);
  r.uint("av_threads", g.av_threads, 1, 64, err);
  r.uint("scan_cpu", cpu, 0, 4095, err);
  r.uint("max_sessions", g.max_sessions, 16, kMaxGatewaySessions, err);
  r.uint("max_message_size", g.max_message_size, 1024, 1ull << 30, err);
  r.uint("message_memory_mb", g.message_memory_mb, 0, 1u << 24, err);
  r.uint("lcore_message_memory_mb", g.lcore_message_memory_mb, 0, 1u << 24, err);
  r.uint("output_stall_s", g.output_stall_s, 1, 3600, err);
  r.uint("io_ring_size", g.io_ring_size, 2, 16384, err);  // dp::kIoRingSize
  if (err) return err;
  if (r.raw("scan_cpu")) g.scan_cpu = cpu;
  if (g.spool_retry_max_s < g.spool_retry_min_s)
    return Error{r.where(*r.raw("spool_retry_max_s"), "spool_retry_max_s") + "is below spool_retry_min_s"};
  if (r.raw("bounce_route")) {
    auto ep = parse_ipv4_port(bounce, 25);
    if (!ep) return Error{r.where(*r.raw("bounce_route"), "bounce_route") + "'" + bounce + "' is not IPv4[:port]"};
    g.bounce_ip = ep->first;
    g.bounce_port = ep->second;
  }
  if (g.hostname.empty() || g.hostname.size() > 253 ||
      g.hostname.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != std::string::npos)
    return Error{r.where(*r.raw("hostname"), "hostname") + "'" + g.hostname + "' is not a host name"};
  if (g.tls_cert.empty() != g.tls_key.empty())
    return Error{src + ":" + std::to_string(t.line) + ": [gateway] tls_cert and tls_key go together"};
  for (std::string* p : {&g.tenants, &g.tls_cert, &g.tls_key, &g.av_database, &g.log_file, &g.quarantine_dir, &g.spool_dir})
    *p = resolve_path(src, *p);
  return std::nullopt;
}

bool valid_host_name(const std::string& s) {
  return !s.empty() && s.size() <= 253 && s.front() != '.' && s.front() != '-' &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == std::string::npos;
}

std::optional<Error> read_control(const std::string& src, const TomlTable& t, ControlSection& c) {
  TomlReader r(src, t);
  if (auto err = r.unknown_keys({"socket", "node_name", "state_dir", "tls_ca", "tls_cert", "tls_key", "tls_server_name"}))
    return err;
  for (const char* k : {"socket", "node_name", "state_dir"})
    if (auto err = r.missing(k)) return err;
  std::optional<Error> err;
  r.str("socket", c.socket, err);
  r.str("node_name", c.node_name, err);
  r.str("state_dir", c.state_dir, err);
  r.str("tls_ca", c.tls_ca, err);
  r.str("tls_cert", c.tls_cert, err);
  r.str("tls_key", c.tls_key, err);
  r.str("tls_server_name", c.tls_server_name, err);
  if (err) return err;
  c.enabled = true;
  c.line = t.line;
  if (c.node_name.empty() || c.node_name.size() > 64 ||
      c.node_name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != std::string::npos)
    return Error{r.where(*r.raw("node_name"), "node_name") + "'" + c.node_name +
                 "' is not 1..64 letters, digits, '.', '-', '_'"};
  c.tcp = c.socket.starts_with(kControlTcpPrefix);
  if (c.tcp) {
    c.address = c.socket.substr(std::strlen(kControlTcpPrefix));
    const auto a = TcpAddress::parse(c.address);
    if (!a)
      return Error{r.where(*r.raw("socket"), "socket") + "'" + c.socket +
                   "' is not tcp:HOST:PORT with HOST an IPv4 address or a [bracketed] IPv6 one, like tcp:192.0.2.7:7443"};
    // Mutual TLS or nothing: over TCP, control must know who the node is and the node who control is.
    for (const char* k : {"tls_ca", "tls_cert", "tls_key"})
      if (!r.raw(k)) return Error{src + ":" + std::to_string(t.line) + ": [control] key '" + k + "' is required with socket = \"tcp:...\""};
    if (c.tls_server_name.empty()) c.tls_server_name = a->host;
    if (!valid_host_name(c.tls_server_name) && !TcpAddress::parse(c.tls_server_name + ":1") &&
        !TcpAddress::parse("[" + c.tls_server_name + "]:1"))
      return Error{r.where(*r.raw("tls_server_name"), "tls_server_name") + "'" + c.tls_server_name +
                   "' is not a host name or an IP address"};
  } else {
    for (const char* k : {"tls_ca", "tls_cert", "tls_key", "tls_server_name"})
      if (r.raw(k))
        return Error{r.where(*r.raw(k), k) + "only with socket = \"tcp:HOST:PORT\" (a Unix socket has no TLS)"};
    if (c.socket.size() >= 108) return Error{r.where(*r.raw("socket"), "socket") + "longer than a Unix socket path can be"};
    c.socket = resolve_path(src, c.socket);
  }
  c.state_dir = resolve_path(src, c.state_dir);
  for (std::string* p : {&c.tls_ca, &c.tls_cert, &c.tls_key}) *p = resolve_path(src, *p);
  return std::nullopt;
}

std::optional<Error> cross_check(const std::string& src, Config& c, const TomlDoc& doc) {
  auto line_of = [&](const char* table) {
    for (const auto& t : doc.tables)
      if (t.name == table) return t.line;
    return 1;
  };
  for (uint32_t l : c.dataplane.net_lcores) {
    if (std::find(c.eal.lcores.begin(), c.eal.lcores.end(), l) == c.eal.lcores.end() || l == c.eal.main_lcore)
      return Error{src + ":" + std::to_string(line_of("dataplane")) + ": [dataplane] key 'net_lcores': lcore " +
                   std::to_string(l) + " must be in [eal] lcores and not the main lcore"};
  }
  if (c.ports.empty()) return Error{src + ": no [[port]] section: the data plane needs at least one port"};
  if (c.ports.size() > kMaxPorts) return Error{src + ": more than " + std::to_string(kMaxPorts) + " ports"};
  for (size_t i = 0; i < c.ports.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (c.ports[i].name == c.ports[j].name || c.ports[i].ipv4.addr == c.ports[j].ipv4.addr)
        return Error{src + ":" + std::to_string(c.ports[i].line) + ": [[port]] '" + c.ports[i].name +
                     "' repeats the name or address of the port on line " + std::to_string(c.ports[j].line)};
  return std::nullopt;
}

}  // namespace

Expected<Config> parse_config(std::string_view text, const std::string& source) {
  auto doc = parse_toml(text, source);
  if (!doc) return doc.error();
  Config c;
  c.path = source;
  bool have_eal = false, have_dp = false, have_tcp = false, have_gw = false, have_ctl = false;
  for (const TomlTable& t : doc->tables) {
    std::optional<Error> err;
    if (t.name.empty()) {
      if (!t.entries.empty())
        err = Error{source + ":" + std::to_string(t.entries[0].second.line) + ": unknown key '" + t.entries[0].first +
                    "' outside any section"};
    } else if (t.name == "eal" && !t.array) {
      have_eal = true;
      err = read_eal(source, t, c.eal);
    } else if (t.name == "port" && t.array) {
      c.ports.emplace_back();
      err = read_port(source, t, c.ports.back());
    } else if (t.name == "dataplane" && !t.array) {
      have_dp = true;
      err = read_dataplane(source, t, c.dataplane);
    } else if (t.name == "tcp" && !t.array && !have_tcp) {
      have_tcp = true;
      err = read_tcp(source, t, c.tcp);
    } else if (t.name == "gateway" && !t.array && !have_gw) {
      have_gw = true;
      err = read_gateway(source, t, c.gateway);
    } else if (t.name == "control" && !t.array && !have_ctl) {
      have_ctl = true;
      err = read_control(source, t, c.control);
    } else {
      err = Error{source + ":" + std::to_string(t.line) + ": unknown section " + (t.array ? "[[" : "[") + t.name +
                  (t.array ? "]]" : "]") + " (known: [eal], [[port]], [dataplane], [tcp], [gateway], [control])"};
    }
    if (err) return *err;
  }
  if (!have_eal) return Error{source + ": missing section [eal]"};
  if (!have_dp) return Error{source + ": missing section [dataplane]"};
  if (auto err = cross_check(source, c, *doc)) return *err;
  if (c.control.enabled && !c.gateway.enabled)
    return Error{source + ":" + std::to_string(c.control.line) + ": [control] needs a [gateway] (it pushes its tenants)"};
  return c;
}

Expected<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot open config file"};
  std::string text;
  text.resize(kTomlMaxBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) return Error{path + ": read error"};
  return parse_config(text, path);
}

}  // namespace mx::cfg
