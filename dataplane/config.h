// dataplane/config.h — mxgate's configuration file (TOML; documented in docs/config.md).
//
// Loading never touches the network or EAL: a bad file is reported (file, line, key) and
// mxgate exits non-zero before anything else happens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/expected.h"
#include "common/net_types.h"

namespace mx::cfg {

constexpr uint32_t kMaxLcores = 128;
constexpr uint32_t kMaxPorts = 8;
constexpr uint32_t kMaxBurst = 64;
constexpr uint32_t kMinMbufs = 1023;
constexpr uint32_t kMaxMbufs = 1u << 20;

struct EalConfig {
  std::vector<uint32_t> lcores;          // every lcore EAL starts, main included
  uint32_t main_lcore = 0;
  bool hugepages = false;                // false: --no-huge (anonymous memory)
  uint32_t memory_mb = 256;
  bool in_memory = true;                 // hugepages only: no runtime files under /var/run/dpdk
  std::string file_prefix = "mxgate";
  std::string log_level = "notice";
  std::vector<std::string> extra_args;   // appended verbatim, for experts
};

struct PortConfig {
  std::string name;
  std::string vdev;                      // e.g. "net_tap0,iface=mxtap0", or
  std::string pci;                       // e.g. "0000:01:00.0"
  Ipv4Prefix ipv4;
  std::optional<Ipv6Prefix> ipv6;
  std::optional<MacAddr> mac;            // the stack's MAC (see docs/config.md)
  uint16_t mtu = 1500;
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
  // Impairment layer on received frames (tests and benchmarks; the kernel here has no netem):
  // parts per million of frames dropped, held back behind later ones, or delivered twice.
  uint32_t impair_drop_ppm = 0;
  uint32_t impair_reorder_ppm = 0;
  uint32_t impair_dup_ppm = 0;
  uint64_t impair_seed = 1;
  int line = 0;
};

enum class IdleMode { kAdaptive, kPoll };

struct DataplaneConfig {
  std::vector<uint32_t> net_lcores;
  IdleMode idle = IdleMode::kAdaptive;
  uint32_t idle_sleep_max_us = 1000;
  uint32_t idle_polls_before_sleep = 256;
  uint32_t burst = 32;
  uint32_t mbufs = 8191;
  uint32_t arp_entries = 1024;
  uint32_t arp_reachable_s = 300;
};

constexpr uint32_t kMaxTcpConns = 1u << 22;

struct TcpSection {
  uint32_t max_conns = 4096;        // per net lcore, TIME-WAIT included
  uint32_t buffer_blocks = 8192;    // 2 KiB blocks per net lcore (send buffers, small copies)
  uint32_t rx_segs = 16384;         // received-segment descriptors per net lcore
  uint32_t rcv_buf = 256 * 1024;    // receive window per connection
  uint32_t snd_buf = 256 * 1024;    // send buffer per connection
  uint32_t syn_backlog = 1024;
  uint32_t accept_backlog = 1024;
  uint32_t msl_s = 30;
  uint32_t keepalive_idle_s = 0;    // 0: off; else idle time before keepalive probes
  uint32_t persist_timeout_s = 600; // a zero window open no sooner than this: the connection is reset
  uint32_t services = 0;            // tcpstack/tcp_services.h mask: discard, echo, chargen
  std::optional<Ipv4Addr> source_ip;  // test source: connect here and send source_bytes
  uint16_t source_port = 0;
  uint64_t source_bytes = 0;
  uint32_t source_after_ms = 2000;  // delay after start-up before the source connects
};

// [gateway]: the SMTP service on the data plane (docs/config.md). Absent: no SMTP listener.
constexpr uint32_t kMaxGatewaySessions = 1u << 20;
struct GatewaySection {
  bool enabled = false;
  uint16_t smtp_port = 25;
  std::string hostname = "mxgate.invalid";  // greeting, EHLO reply, relay HELO, Received
  std::string tenants;        // the tenant snapshot file (ipc/snapshot.h); relative: to the config
  std::string tls_cert;       // PEM; STARTTLS is offered when both are given
  std::string tls_key;
  std::string av_database;    // libclamav database directory
  std::string log_file;       // transaction log (JSON lines)
  std::string quarantine_dir;
  std::string spool_dir;
  uint32_t spool_retry_min_s = 60;      // first retry; doubles per attempt up to the max
  uint32_t spool_retry_max_s = 3600;
  uint32_t spool_lifetime_s = 5 * 86400;  // then the sender gets a DSN (RFC 5321 4.5.4.1)
  std::optional<Ipv4Addr> bounce_ip;    // where DSNs to senders outside every tenant go
  uint16_t bounce_port = 25;
  uint32_t av_threads = 1;
  std::optional<uint32_t> scan_cpu;  // the CPU the scan thread is pinned to
  uint32_t max_sessions = 4096;      // SMTP sessions (inbound + relay) per net lcore
  uint64_t max_message_size = 50ull << 20;
  // Memory for message bytes held in flight (stores of messages being received, scanned,
  // relayed or written): the whole process, and each net lcore. 0: derived from the machine
  // (a quarter of physical memory for the process; the process budget per lcore). At the
  // budget, a new DATA gets 452 4.3.1 and a message that would pass it is refused with 452 at
  // its end, its memory freed at once; messages already accepted are not affected.
  uint32_t message_memory_mb = 0;
  uint32_t lcore_message_memory_mb = 0;
  // A session whose replies cannot be sent for this long (the client stopped reading) is
  // aborted with a RST and its memory freed.
  uint32_t output_stall_s = 60;
  // Requests (log records, quarantine and spool writes) queued for the I/O thread; beyond, they
  // wait on their lcore (Gateway::post_io). Small values only make sense in tests.
  uint32_t io_ring_size = 16384;
  int line = 0;
};

// [control]: the channel to mxgate-control (docs/control.md). Absent: the tenant snapshot is the
// file in [gateway] tenants, reloaded on SIGHUP.
// With socket = "tcp:HOST:PORT" the channel is TCP with mutual TLS (common/tls_channel.h): the
// node presents tls_cert (which must name node_name: control checks) and verifies control's
// certificate against tls_ca and tls_server_name.
constexpr const char* kControlTcpPrefix = "tcp:";
struct ControlSection {
  bool enabled = false;
  std::string socket;      // mxgate-control's node socket: a Unix socket path, or "tcp:HOST:PORT"
  std::string node_name;   // how this node names itself (letters, digits, '.', '-', '_'; 1..64)
  std::string state_dir;   // where the last snapshot pushed is kept, to restart with it
  bool tcp = false;        // socket is "tcp:HOST:PORT"
  std::string address;     // then: HOST:PORT (HOST an IP literal: connecting never blocks on DNS)
  std::string tls_ca;      // the CA (PEM) control's certificate must chain to
  std::string tls_cert;    // this node's certificate chain (PEM), presented to control
  std::string tls_key;     // its private key (PEM)
  std::string tls_server_name;  // the name control's certificate must carry; default: HOST
  int line = 0;
};

struct Config {
  std::string path;
  EalConfig eal;
  std::vector<PortConfig> ports;
  DataplaneConfig dataplane;
  TcpSection tcp;
  GatewaySection gateway;
  ControlSection control;
};

Expected<Config> parse_config(std::string_view text, const std::string& source);
Expected<Config> load_config(const std::string& path);

}  // namespace mx::cfg
