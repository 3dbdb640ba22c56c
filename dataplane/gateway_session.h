// dataplane/gateway_session.h — one inbound SMTP connection (InSession) and one relay client
// connection to a tenant's server (RelayConn), both on the net lcore of their TCP connection.
// See dataplane/gateway.h for the contract.
#pragma once

#include <memory>
#include <string>

#include "dataplane/gateway.h"
#include "smtp/client.h"

namespace mx::dp {

// Whoever waits for a relay's result: an inbound session, or a spool delivery.
class RelayOwner {
 public:
  virtual ~RelayOwner() = default;
  virtual void on_relay_done(const smtp::ClientResult& r, Tick now) = 0;
};

struct RelayTarget {
  Ipv4Addr ip;
  uint16_t port = 25;
  smtp::TlsPolicy tls = smtp::TlsPolicy::kOpportunistic;
  std::string tls_name;  // SNI and the certificate's name; empty: the address (no SNI)
  bool verify_only = false;  // a recipient check: MAIL, RCPT, QUIT (smtp::ClientConfig)
};

class InSession;
// The owner of a recipient check: forwards its result to the session.
class RcptCheck final : public RelayOwner {
 public:
  explicit RcptCheck(InSession* s) : s_(s) {}
  void on_relay_done(const smtp::ClientResult& r, Tick now) override;

 private:
  InSession* s_;
};

class InSession final : public net::TcpHandler, public smtp::ServerHandler, public RelayOwner {
 public:
  InSession(Gateway& gw, net::TcpConn* c, Tick now);
  ~InSession() override;
  void start(Tick now);
  void tick(Tick now);

  // From the other threads' answers and the relay.
  void on_scanned(MsgJob* job, Tick now);
  void on_io_done(IoReq* r, Tick now);
  void on_relay_done(const smtp::ClientResult& r, Tick now) override;
  void on_rcpt_checked(const smtp::ClientResult& r, Tick now);

  // net::TcpHandler
  void on_data(net::TcpConn&) override;
  void on_writable(net::TcpConn&) override;
  void on_peer_closed(net::TcpConn&) override;
  void on_closed(net::TcpConn&, net::TcpError) override;

  // smtp::ServerHandler
  smtp::Decision on_connect() override;
  smtp::Decision on_mail(const smtp::Mailbox&, const smtp::MailParams&) override;
  smtp::Decision on_rcpt(const smtp::Mailbox&, const smtp::RcptParams&) override;
  std::optional<smtp::Reply> on_data_begin() override;
  void on_data(ByteSpan) override;
  smtp::Decision on_end_of_data(const smtp::EndOfData&) override;
  void on_reset() override;
  void on_refused(std::string_view what, const smtp::Reply& r) override;

  uint64_t gen = 0;  // matches IoReq::session_gen

 private:
  void pump(Tick now);
  void flush();
  void drop_job();
  void connection_lost();
  smtp::Decision check_recipient(const Tenant* t, const PolicyKey& key, const smtp::Mailbox& m, std::string cache_key);
  bool outcome_pending() const;
  const MsgJob* job() const { return job_ ? job_ : out_ ? out_->job.get() : nullptr; }
  IoReq* message_request(IoKind kind);
  void act(Tick now);
  void finish(const smtp::Reply& r, std::string_view action, Tick now, IoReq* prepared = nullptr);
  IoReq* partial_failures(const smtp::ClientResult& res);
  void quarantine(Tick now);
  void relay(Tick now);
  void spool(Tick now);
  SpoolMeta spool_meta();
  std::string log_record(const smtp::Reply& r, std::string_view action);
  void log_refusal(std::string_view stage, std::string_view arg, const smtp::Reply& r);
  void log_abandoned();
  void post_log(std::string line);
  void destroy();

  Gateway& gw_;
  net::TcpConn* conn_;
  std::shared_ptr<const Snapshot> snap_;
  smtp::ServerConnection sc_;
  std::string client_ip_;
  uint16_t client_port_ = 0;
  uint64_t connect_ns_ = 0;
  bool peer_closed_ = false;
  bool dead_ = false;
  // The client went away (reset, or aborted by us) after its final dot: the session lives on
  // without a connection until the outcome is known and logged, then goes.
  bool gone_ = false;
  uint64_t out_progress_ns_ = 0;  // output last sent, or found empty (stall detection)
  uint32_t refusals_logged_ = 0;
  // The transaction.
  const Tenant* tenant_ = nullptr;
  PolicyKey key_;
  MsgJob* job_ = nullptr;       // owned (except while posted to the scan thread)
  bool job_posted_ = false;
  bool job_overflow_ = false;   // the store was full (the engine answers 552 itself)
  bool over_budget_ = false;    // the memory budget for messages ran out during this DATA
  bool eod_ = false;            // end of data seen: the sender waits for the final reply
  bool in_txn_ = false;         // MAIL accepted, final reply not yet given
  std::unique_ptr<OutMessage> out_;  // after the verdict: the message as relayed or stored
  uint64_t data_start_ns_ = 0, data_end_ns_ = 0, relay_start_ns_ = 0;
  RelayConn* relay_ = nullptr;
  // A recipient being checked with the tenant's server (verify_recipients): the RCPT's answer
  // waits for it.
  RcptCheck rcpt_check_{this};
  RelayConn* verify_ = nullptr;
  const Tenant* check_tenant_ = nullptr;
  PolicyKey check_key_;
  std::string check_rcpt_, check_cache_key_;
  bool in_rcpt_ = false;                     // inside on_rcpt: a result is returned, not resumed
  std::optional<smtp::Decision> sync_decision_;
  smtp::ClientResult relay_result_;
  bool relayed_ = false;
  bool spooled_ = false;
  smtp::Reply final_;           // the reply waiting for its log record to be durable
  bool awaiting_io_ = false;
};

constexpr uint32_t kMaxLoggedRefusals = 20;  // engine refusals logged per session

// Time allowed for the TCP connection to a tenant's server (RFC 5321 4.5.3.2 leaves the
// connect timeout to the client; the greeting then has its own 5 minutes).
constexpr uint64_t kRelayConnectTimeoutNs = 30 * kNsPerSec;
// A recipient check that has no answer by then is inconclusive: the recipient is accepted.
constexpr uint64_t kRcptVerifyTimeoutNs = 20 * kNsPerSec;

class RelayConn final : public net::TcpHandler {
 public:
  // Owns `out` until take_out(); msg.body is set here to its parts.
  RelayConn(Gateway& gw, RelayOwner* owner, const RelayTarget& to, smtp::ClientMessage msg,
            std::unique_ptr<OutMessage> out);
  ~RelayConn() override;
  bool start(Tick now);  // false: no connection could be opened (result() says why)
  void tick(Tick now);
  void detach() { in_ = nullptr; }
  // The relay owns its owner when nobody else does (a spool delivery): deleted with the relay.
  void adopt_owner(std::unique_ptr<RelayOwner> o) { owned_owner_ = std::move(o); }
  const smtp::ClientResult& result() const { return cs_->result(); }
  std::unique_ptr<OutMessage> take_out() { return std::move(out_); }

  void on_connected(net::TcpConn&) override;
  void on_data(net::TcpConn&) override;
  void on_writable(net::TcpConn&) override;
  void on_peer_closed(net::TcpConn&) override;
  void on_closed(net::TcpConn&, net::TcpError) override;

 private:
  void flush();
  void check_done(Tick now);
  void destroy();

  Gateway& gw_;
  RelayOwner* in_;
  RelayTarget to_;
  std::unique_ptr<OutMessage> out_;
  smtp::ClientMessage msg_;
  std::unique_ptr<smtp::ClientSession> cs_;
  std::unique_ptr<RelayOwner> owned_owner_;
  net::TcpConn* conn_ = nullptr;
  bool reported_ = false;
  bool connected_ = false;
  uint64_t start_ns_ = 0;
  bool dead_ = false;
};

// A spooled message being delivered on this lcore; reports to the I/O thread. Owned by its
// RelayConn once started.
class SpoolRelay final : public RelayOwner {
 public:
  SpoolRelay(Gateway& gw, SpoolDelivery* d) : gw_(gw), d_(d) {}
  ~SpoolRelay() override { delete d_; }
  void start(Tick now);
  void on_relay_done(const smtp::ClientResult& r, Tick now) override;

 private:
  Gateway& gw_;
  SpoolDelivery* d_;
};

}  // namespace mx::dp
