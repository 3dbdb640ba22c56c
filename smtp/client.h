// smtp/client.h — the SMTP client engine: relays one message to a customer's server.
//
// SECURITY: the server's replies are untrusted input, parsed with limits (kMaxReplyLine,
// kMaxReplyLines); anything malformed ends the attempt as a temporary failure. On a route that
// requires TLS the message is never sent in clear: a missing or failed STARTTLS fails the
// attempt before MAIL. Bytes the server sends after its "220" to STARTTLS and before the
// handshake are discarded (RFC 3207 injection).
// STANDARDS: RFC 5321 (4.5.2 transparency, 4.5.3.2 client timeouts), RFC 2920 PIPELINING,
// RFC 3030 CHUNKING, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN,
// RFC 3207 STARTTLS.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/strong_id.h"
#include "common/tls_policy.h"
#include "smtp/address.h"
#include "smtp/reply.h"
#include "smtp/tls.h"

namespace mx::smtp {

constexpr uint32_t kMaxReplyLine = 2048;
constexpr uint32_t kMaxReplyLines = 256;
// RFC 5321 4.5.3.2 client timeouts.
constexpr uint64_t kClientGreetingTimeoutNs = 300 * kNsPerSec;
constexpr uint64_t kClientCommandTimeoutNs = 300 * kNsPerSec;
constexpr uint64_t kClientDataInitTimeoutNs = 120 * kNsPerSec;
constexpr uint64_t kClientFinalDotTimeoutNs = 600 * kNsPerSec;

using mx::TlsPolicy;  // common/tls_policy.h (kRequiredVerify: server_name must match)

struct ClientConfig {
  std::string helo_name = "mxgate.invalid";
  TlsPolicy tls = TlsPolicy::kOpportunistic;
  std::string server_name;  // SNI (a host name), and the name the certificate must match (kRequiredVerify)
  bool use_pipelining = true;
  bool use_chunking = true;
  size_t bdat_chunk = 64 * 1024;
  // Recipient verification (a callout): MAIL and RCPT, then QUIT without DATA. The outcome is
  // kDelivered when every recipient was accepted, else the class of the first refusal, stage
  // "rcpt" (or the stage where the session failed).
  bool verify_only = false;
};

struct ClientRecipient {
  std::string address;  // without angle brackets
  RcptParams params;
};

struct ClientMessage {
  std::string from;     // "" for the null sender
  MailParams params;    // BODY, SMTPUTF8, RET, ENVID are passed on; SIZE is set by the client
  std::vector<ClientRecipient> rcpts;
  ByteParts body;       // CRLF lines, not dot-stuffed; the ranges must outlive the session
};

struct ClientResult {
  enum class Outcome : uint8_t { kPending, kDelivered, kTempFail, kPermFail };
  Outcome outcome = Outcome::kPending;
  Reply reply;                       // the server's final reply, or one made up for a local failure
  std::string stage;                 // connect, ehlo, starttls, tls, mail, rcpt, data, body
  std::vector<Reply> rcpt_replies;   // one per recipient, in order
  bool tls = false;
  TlsInfo tls_info;
  bool accepted(size_t i) const { return outcome == Outcome::kDelivered && rcpt_replies[i].positive(); }
};

class ClientSession {
 public:
  ClientSession(const ClientConfig& cfg, std::shared_ptr<const TlsClientContext> tls, const ClientMessage& msg);

  void start(Tick now);                 // the connection is up: wait for the greeting
  size_t feed(ByteSpan wire, Tick now);  // bytes from the server
  void on_closed(Tick now);             // the server closed the connection
  void tick(Tick now);                  // timeouts

  std::string_view output() const { return out_; }
  void consume_output(size_t n) { out_.erase(0, n); }
  bool wants_close() const { return closing_; }
  const ClientResult& result() const { return result_; }

 private:
  enum class State : uint8_t { kGreeting, kEhlo, kHelo, kStartTls, kHandshake, kTransaction, kDot, kQuit, kDone };
  enum class Expect : uint8_t { kMail, kRcpt, kData, kBdat, kBdatLast };

  void on_reply(const Reply& r, Tick now);
  void on_transaction_reply(const Reply& r, Tick now);
  void after_ehlo(const Reply& r, bool esmtp, Tick now);
  void begin_transaction(Tick now);
  void send_next_rcpt(Tick now);
  void send_body_data();
  void verified();
  void send_bdat(bool all);
  void fail(ClientResult::Outcome o, Reply r, const std::string& stage);
  void finish(ClientResult::Outcome o, const Reply& r, const std::string& stage);
  void quit();
  void send(std::string_view line);
  void set_deadline(Tick now, uint64_t ns) { deadline_ns_ = now.ns + ns; }
  bool parse_replies(Tick now);

  ClientConfig cfg_;
  std::shared_ptr<const TlsClientContext> tls_ctx_;
  const ClientMessage& msg_;
  State state_ = State::kGreeting;
  bool closing_ = false;
  // Extensions of the current EHLO.
  bool ext_pipelining_ = false, ext_8bit_ = false, ext_starttls_ = false, ext_chunking_ = false, ext_utf8_ = false,
       ext_dsn_ = false, ext_size_ = false;
  uint64_t ext_size_limit_ = 0;
  std::deque<Expect> expect_;
  size_t rcpts_sent_ = 0;
  size_t accepted_ = 0;
  size_t body_pos_ = 0;  // BDAT: bytes already sent
  bool use_bdat_ = false;
  Reply mail_reply_;
  bool mail_failed_ = false;
  uint64_t deadline_ns_ = 0;
  std::string in_;        // received plaintext not yet parsed
  std::string out_;       // wire bytes to send
  std::vector<std::string> lines_;  // lines of the reply being read
  std::unique_ptr<TlsSession> tls_;
  ClientResult result_;
};

}  // namespace mx::smtp
