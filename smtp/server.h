// smtp/server.h — the SMTP server engine: bytes in, replies and events out.
//
// SECURITY: every byte of input is untrusted. The engine never blocks, never throws on bad
// input, bounds everything it holds (smtp/smtp_limits.h), and answers each violation with a defined
// reply. It knows nothing of TCP: the caller feeds received bytes, drains output(), and closes
// the connection when wants_close() is true and the output is flushed. Time is passed in.
// STANDARDS: RFC 5321; RFC 1870 SIZE, RFC 2034/3463 enhanced codes, RFC 2920 PIPELINING,
// RFC 3030 CHUNKING, RFC 3461 DSN, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/strong_id.h"
#include "smtp/address.h"
#include "smtp/data_scanner.h"
#include "smtp/smtp_limits.h"
#include "smtp/reply.h"
#include "smtp/tls.h"

namespace mx::smtp {

struct ServerConfig {
  std::string hostname = "mxgate.invalid";
  uint64_t max_message_size = kDefaultMaxMessageSize;
  uint32_t max_recipients = kDefaultMaxRecipients;
  BareNewlines bare_newlines = BareNewlines::kReject;
  uint64_t command_timeout_ns = kCommandTimeoutNs;
  uint64_t data_timeout_ns = kDataTimeoutNs;
  uint64_t session_deadline_ns = kSessionDeadlineNs;
  bool starttls = false;  // offered (set by ServerConnection when it has a TLS context)
};

// The application's answer to an event: the engine's default positive reply, a reply of its
// own (a rejection, or a custom text), or "later" — then it calls ServerSession::resume().
class Decision {
 public:
  enum class Kind : uint8_t { kAccept, kReply, kDefer };
  static Decision accept() { return Decision(Kind::kAccept, {}); }
  static Decision with(Reply r) { return Decision(Kind::kReply, std::move(r)); }
  static Decision defer() { return Decision(Kind::kDefer, {}); }
  Kind kind() const { return kind_; }
  const Reply& reply() const { return reply_; }

 private:
  Decision(Kind k, Reply r) : kind_(k), reply_(std::move(r)) {}
  Kind kind_;
  Reply reply_;
};

struct Recipient {
  Mailbox mailbox;
  RcptParams params;
};

struct Transaction {
  Mailbox from;
  MailParams params;
  std::vector<Recipient> rcpts;  // accepted ones, in order
  bool bdat = false;
};

struct EndOfData {
  uint64_t size = 0;
  DataFlags flags;
  bool bdat = false;
};

class ServerHandler {
 public:
  virtual ~ServerHandler() = default;
  virtual Decision on_connect() { return Decision::accept(); }
  virtual Decision on_helo(std::string_view /*name*/, bool /*esmtp*/) { return Decision::accept(); }
  virtual Decision on_mail(const Mailbox&, const MailParams&) { return Decision::accept(); }
  virtual Decision on_rcpt(const Mailbox&, const RcptParams&) { return Decision::accept(); }
  // DATA or the first BDAT chunk: a reply refuses it (e.g. 452 4.3.1 when memory for messages
  // in flight is exhausted); the transaction then stays as it was (DATA) or is reset (BDAT).
  virtual std::optional<Reply> on_data_begin() { return std::nullopt; }
  // Unstuffed message bytes, in order, as they arrive (spans valid during the call only).
  virtual void on_data(ByteSpan) {}
  // Asked only for messages that passed the engine's own checks.
  virtual Decision on_end_of_data(const EndOfData&) { return Decision::accept(); }
  // The engine refused something on its own (syntax, sequence, limits, smuggling): for the log.
  virtual void on_refused(std::string_view /*what*/, const Reply&) {}
  // STARTTLS completed (protocol, cipher, SNI and ClientHello fingerprint for the log).
  virtual void on_tls(const TlsInfo&) {}
  virtual void on_reset() {}
  virtual void on_quit() {}
  virtual void on_timeout() {}
};

class ServerSession {
 public:
  ServerSession(const ServerConfig& cfg, ServerHandler& h);

  // Starts the session: asks on_connect and sends the greeting (or the rejection).
  void start(Tick now);
  // Takes received bytes; returns how many were taken. Fewer than given means the session
  // holds kMaxPipelineBytes while a decision is pending: feed the rest after resume().
  size_t feed(ByteSpan in, Tick now);
  // Answers the pending decision (only valid while awaiting_decision()).
  void resume(const Decision& d, Tick now);
  // Enforces timeouts and ends the error delay; call periodically (at least once a second).
  void tick(Tick now);
  // Commands already read are processed (after output drained, or an error delay).
  void process_buffered(Tick now);
  // Output the transport still holds (wire bytes not yet sent): counts toward kMaxOutputBacklog.
  void set_wire_backlog(size_t n) { wire_backlog_ = n; }
  bool output_full() const { return out_.size() + wire_backlog_ >= kMaxOutputBacklog; }
  // Commands read but not yet processed (held by a pending decision, an error delay or unsent
  // replies).
  bool has_buffered_input() const { return !in_.empty(); }
  // Past the soft error limit: commands wait until tick() at or after the delay's end.
  bool delayed() const { return delay_until_ns_ > now_ns_; }

  std::string_view output() const { return out_; }
  void consume_output(size_t n) { out_.erase(0, n); }
  bool wants_close() const { return closing_; }
  bool awaiting_decision() const { return pending_ != Pending::kNone; }
  const Transaction& transaction() const { return txn_; }
  uint32_t errors() const { return errors_; }
  std::string_view helo_name() const { return helo_; }
  // STARTTLS was accepted: once the 220 is sent, every further byte belongs to TLS. Input fed
  // after that is discarded (plaintext behind STARTTLS is never read: CVE-2011-0411).
  bool starttls_requested() const { return starttls_requested_; }
  // The TLS handshake completed: the session starts over and needs a new EHLO (RFC 3207 4.2).
  void tls_started(const TlsInfo& info);
  bool tls_active() const { return tls_active_; }

 private:
  enum class Phase : uint8_t { kConnect, kNeedHelo, kReady, kMail, kRcpt, kData, kBdat, kBdatDiscard };
  enum class Pending : uint8_t { kNone, kConnect, kHelo, kMail, kRcpt, kEndOfData };
  struct Command;
  friend struct CommandTable;

  void process();
  size_t body_input(ByteSpan in);
  void execute(std::string_view line);
  void finish_body();
  void apply(Pending what, const Decision& d);
  void send(const Reply& r);
  void refuse(std::string_view what, const Reply& r);
  void close_with(const Reply& r);
  void reset_transaction();
  void send_ehlo_reply();

  // Commands (server_commands.cc): check-and-proceed per verb.
  void cmd_helo(std::string_view arg, bool esmtp);
  void cmd_mail(std::string_view arg);
  void cmd_rcpt(std::string_view arg);
  void cmd_data(std::string_view arg);
  void cmd_bdat(std::string_view arg);
  void cmd_rset(std::string_view arg);
  void cmd_noop(std::string_view arg);
  void cmd_quit(std::string_view arg);
  void cmd_vrfy(std::string_view arg);
  void cmd_starttls(std::string_view arg);
  void cmd_simple(std::string_view verb);

  const ServerConfig& cfg_;
  ServerHandler& h_;
  Phase phase_ = Phase::kConnect;
  Phase after_discard_ = Phase::kConnect;  // where a refused BDAT's discarded chunk returns to
  Pending pending_ = Pending::kNone;
  bool esmtp_ = false;
  bool closing_ = false;
  bool discard_line_ = false;  // dropping the rest of an overlong command line
  bool bdat_last_ = false;
  bool starttls_requested_ = false;
  bool tls_active_ = false;
  uint32_t errors_ = 0;
  size_t wire_backlog_ = 0;
  uint64_t delay_until_ns_ = 0;  // past the soft error limit: no command is read before this
  uint64_t bdat_left_ = 0;
  uint64_t start_ns_ = 0;
  uint64_t last_ns_ = 0;         // the last input or decision (idle timeouts)
  uint64_t now_ns_ = 0;          // the latest time we were given
  std::string in_;
  std::string out_;
  std::string helo_;
  std::string pending_helo_;
  Transaction txn_;
  Mailbox pending_box_;
  MailParams pending_mail_;
  RcptParams pending_rcpt_;
  DataScanner scanner_;
};

}  // namespace mx::smtp
