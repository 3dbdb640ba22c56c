// smtp/server_commands.cc — the command table and each command's check and proceed steps.
// `check` only validates and replies; `proceed` (after the application's decision) only acts.
#include <array>

#include "common/ascii.h"
#include "smtp/server.h"

namespace mx::smtp {
namespace {

// Strips "FROM:" / "TO:" (case-insensitive) and tolerates spaces after the colon, as most
// servers do; everything else is the path grammar's business.
bool strip_prefix(std::string_view& arg, std::string_view prefix) {
  if (arg.size() < prefix.size() || !iequals(arg.substr(0, prefix.size()), prefix)) return false;
  arg.remove_prefix(prefix.size());
  while (!arg.empty() && arg[0] == ' ') arg.remove_prefix(1);
  return true;
}

Reply path_error_reply(PathError e, bool sender) {
  switch (e) {
    case PathError::kTooLong: return reply(501, "5.5.4", "Error: address too long");
    case PathError::kNeedsUtf8: return reply(553, "5.6.7", "Error: non-ASCII address needs SMTPUTF8");
    default: return reply(501, sender ? "5.1.7" : "5.1.3", "Error: bad address syntax");
  }
}

Reply param_error_reply(ParamError e, const std::string& name) {
  if (e == ParamError::kUnknown) return reply(555, "5.5.4", "Error: unsupported parameter " + name);
  return reply(501, "5.5.4", "Error: bad parameter " + name);
}

}  // namespace

// Verbs, the phases each is valid in, and whether it must end a pipelined group (RFC 2920 3.1).
struct CommandTable {
  enum Flags : uint8_t { kGroupEnd = 1 };
  struct Entry {
    std::string_view verb;
    uint8_t flags;
    void (*run)(ServerSession&, std::string_view verb, std::string_view arg);
  };
  static const std::array<Entry, 17>& entries();
};

const std::array<CommandTable::Entry, 17>& CommandTable::entries() {
  using S = ServerSession;
  static const std::array<Entry, 17> kTable{{
      {"EHLO", kGroupEnd, [](S& s, std::string_view, std::string_view a) { s.cmd_helo(a, true); }},
      {"HELO", kGroupEnd, [](S& s, std::string_view, std::string_view a) { s.cmd_helo(a, false); }},
      {"MAIL", 0, [](S& s, std::string_view, std::string_view a) { s.cmd_mail(a); }},
      {"RCPT", 0, [](S& s, std::string_view, std::string_view a) { s.cmd_rcpt(a); }},
      {"DATA", kGroupEnd, [](S& s, std::string_view, std::string_view a) { s.cmd_data(a); }},
      {"BDAT", 0, [](S& s, std::string_view, std::string_view a) { s.cmd_bdat(a); }},
      {"RSET", 0, [](S& s, std::string_view, std::string_view a) { s.cmd_rset(a); }},
      {"NOOP", 0, [](S& s, std::string_view, std::string_view a) { s.cmd_noop(a); }},
      {"QUIT", 0, [](S& s, std::string_view, std::string_view a) { s.cmd_quit(a); }},
      {"VRFY", kGroupEnd, [](S& s, std::string_view, std::string_view a) { s.cmd_vrfy(a); }},
      {"EXPN", kGroupEnd, [](S& s, std::string_view v, std::string_view) { s.cmd_simple(v); }},
      {"HELP", 0, [](S& s, std::string_view v, std::string_view) { s.cmd_simple(v); }},
      {"STARTTLS", 0, [](S& s, std::string_view, std::string_view a) { s.cmd_starttls(a); }},
      {"AUTH", 0, [](S& s, std::string_view v, std::string_view) { s.cmd_simple(v); }},
      {"ETRN", 0, [](S& s, std::string_view v, std::string_view) { s.cmd_simple(v); }},
      {"TURN", kGroupEnd, [](S& s, std::string_view v, std::string_view) { s.cmd_simple(v); }},
      {"ATRN", kGroupEnd, [](S& s, std::string_view v, std::string_view) { s.cmd_simple(v); }},
  }};
  return kTable;
}

void ServerSession::execute(std::string_view line) {
  size_t sp = line.find(' ');
  std::string_view verb = line.substr(0, sp);
  std::string_view arg = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
  for (std::string_view http : {"GET", "POST", "HEAD", "PUT", "CONNECT"}) {
    if (iequals(verb, http)) {  // a web proxy relaying someone's request at us
      h_.on_refused("http", reply(421, "4.7.0", "HTTP command"));
      close_with(reply(421, "4.7.0", cfg_.hostname + " Error: this is an SMTP server"));
      return;
    }
  }
  for (const CommandTable::Entry& e : CommandTable::entries()) {
    if (!iequals(verb, e.verb)) continue;
    // RFC 2920: a command that ends a group (or any command when PIPELINING was not offered)
    // must wait for its reply. Bytes already behind it are a client that did not wait: the
    // command is refused, and what follows is read as the commands it is (each answered).
    // STARTTLS is exempt: what follows it is discarded unread (CVE-2011-0411), not refused.
    bool may_pipeline = esmtp_ && !(e.flags & CommandTable::kGroupEnd);
    if (!in_.empty() && !may_pipeline && !iequals(verb, "QUIT") && !iequals(verb, "STARTTLS")) {
      refuse("pipelining", reply(503, "5.5.0", "Error: improper use of SMTP command pipelining"));
      return;
    }
    e.run(*this, verb, arg);
    return;
  }
  refuse("command", reply(500, "5.5.2", "Error: command not recognized"));
}

void ServerSession::apply(Pending what, const Decision& d) {
  pending_ = Pending::kNone;
  bool ok = d.kind() == Decision::Kind::kAccept || d.reply().positive();
  switch (what) {
    case Pending::kConnect:
      if (!ok) {
        close_with(d.reply());
        return;
      }
      if (!in_.empty()) {  // the client talked while we were deciding on the greeting
        h_.on_refused("pregreet", reply(554, "5.5.0", "client spoke before the greeting"));
        close_with(reply(554, "5.5.0", cfg_.hostname + " Error: client spoke before the greeting"));
        return;
      }
      phase_ = Phase::kNeedHelo;
      if (d.kind() == Decision::Kind::kReply) append_reply(out_, d.reply());
      else append_reply(out_, reply(220, "", cfg_.hostname + " ESMTP mxgate"));
      return;
    case Pending::kHelo:
      if (!ok) break;
      helo_ = pending_helo_;
      if (phase_ != Phase::kNeedHelo) reset_transaction();
      phase_ = Phase::kReady;
      if (d.kind() == Decision::Kind::kReply) append_reply(out_, d.reply());
      else if (esmtp_) send_ehlo_reply();
      else append_reply(out_, reply(250, "", cfg_.hostname));
      return;
    case Pending::kMail:
      if (!ok) break;
      txn_.from = std::move(pending_box_);
      txn_.params = std::move(pending_mail_);
      phase_ = Phase::kMail;
      send(d.kind() == Decision::Kind::kReply ? d.reply() : reply(250, "2.1.0", "Ok"));
      return;
    case Pending::kRcpt:
      if (!ok) break;
      txn_.rcpts.push_back(Recipient{std::move(pending_box_), std::move(pending_rcpt_)});
      phase_ = Phase::kRcpt;
      send(d.kind() == Decision::Kind::kReply ? d.reply() : reply(250, "2.1.5", "Ok"));
      return;
    case Pending::kEndOfData:
      // Errors count toward the limits "without delivering mail" (as Postfix): a session that
      // delivers starts over, so a long-lived connection is not cut for errors spread over
      // many good messages.
      if (ok) errors_ = 0;
      send(d.kind() == Decision::Kind::kReply ? d.reply() : reply(250, "2.0.0", "Ok: queued"));
      reset_transaction();
      return;
    case Pending::kNone:
      return;
  }
  send(d.reply());  // a refusal by the application: state unchanged
}

void ServerSession::send_ehlo_reply() {
  std::string size = "SIZE " + std::to_string(cfg_.max_message_size);
  std::string_view lines[10] = {cfg_.hostname, "PIPELINING", size, "8BITMIME", "ENHANCEDSTATUSCODES"};
  size_t n = 5;
  if (cfg_.starttls && !tls_active_) lines[n++] = "STARTTLS";
  for (std::string_view ext : {"CHUNKING", "SMTPUTF8", "DSN"}) lines[n++] = ext;
  append_multiline(out_, 250, lines, n);
}

void ServerSession::cmd_helo(std::string_view arg, bool esmtp) {
  if (arg.empty() || arg.size() > kMaxHeloName || arg.find(' ') != std::string_view::npos ||
      !valid_domain(arg, false, /*allow_underscore=*/true)) {
    refuse(esmtp ? "EHLO" : "HELO", reply(501, "5.5.4", esmtp ? "Syntax: EHLO hostname" : "Syntax: HELO hostname"));
    return;
  }
  esmtp_ = esmtp;
  pending_helo_.assign(arg);
  pending_ = Pending::kHelo;
  Decision d = h_.on_helo(arg, esmtp);
  if (d.kind() != Decision::Kind::kDefer) apply(Pending::kHelo, d);
}

void ServerSession::cmd_mail(std::string_view arg) {
  if (phase_ == Phase::kNeedHelo) return refuse("MAIL", reply(503, "5.5.1", "Error: send HELO/EHLO first"));
  if (phase_ != Phase::kReady) return refuse("MAIL", reply(503, "5.5.1", "Error: nested MAIL command"));
  if (!strip_prefix(arg, "FROM:")) return refuse("MAIL", reply(501, "5.5.4", "Syntax: MAIL FROM:<address>"));
  std::string_view rest;
  PathError pe = parse_path(arg, /*allow_null=*/true, /*utf8_allowed=*/true, pending_box_, rest);
  if (pe != PathError::kOk) return refuse("MAIL", path_error_reply(pe, true));
  pending_mail_ = MailParams{};
  std::string bad;
  if (!rest.empty() && !esmtp_) return refuse("MAIL", reply(555, "5.5.4", "Error: parameters need EHLO"));
  ParamError e = parse_mail_params(rest, pending_mail_, bad);
  if (e != ParamError::kOk) return refuse("MAIL", param_error_reply(e, bad));
  if (pending_box_.utf8 && !pending_mail_.smtputf8) return refuse("MAIL", path_error_reply(PathError::kNeedsUtf8, true));
  if (pending_mail_.size && *pending_mail_.size > cfg_.max_message_size)
    return refuse("MAIL", reply(552, "5.3.4", "Error: message size exceeds fixed maximum message size"));
  pending_ = Pending::kMail;
  Decision d = h_.on_mail(pending_box_, pending_mail_);
  if (d.kind() != Decision::Kind::kDefer) apply(Pending::kMail, d);
}

void ServerSession::cmd_rcpt(std::string_view arg) {
  if (phase_ != Phase::kMail && phase_ != Phase::kRcpt)
    return refuse("RCPT", reply(503, "5.5.1", "Error: need MAIL command"));
  if (!strip_prefix(arg, "TO:")) return refuse("RCPT", reply(501, "5.5.4", "Syntax: RCPT TO:<address>"));
  std::string_view rest;
  PathError pe = parse_path(arg, /*allow_null=*/false, /*utf8_allowed=*/true, pending_box_, rest);
  if (pe != PathError::kOk) return refuse("RCPT", path_error_reply(pe, false));
  if (pending_box_.utf8 && !txn_.params.smtputf8) return refuse("RCPT", path_error_reply(PathError::kNeedsUtf8, false));
  // '%', '!' and a quoted '@' ask the next hop to route further: never accepted (no relaying
  // by local-part tricks, whatever the tenant's server would make of them).
  if (pending_box_.routing_chars)
    return refuse("RCPT", reply(550, "5.7.1", "Error: routing characters in the local part are not accepted"));
  pending_rcpt_ = RcptParams{};
  std::string bad;
  if (!rest.empty() && !esmtp_) return refuse("RCPT", reply(555, "5.5.4", "Error: parameters need EHLO"));
  ParamError e = parse_rcpt_params(rest, pending_rcpt_, bad);
  if (e != ParamError::kOk) return refuse("RCPT", param_error_reply(e, bad));
  if (txn_.rcpts.size() >= cfg_.max_recipients)
    return refuse("RCPT", reply(452, "4.5.3", "Error: too many recipients"));
  pending_ = Pending::kRcpt;
  Decision d = h_.on_rcpt(pending_box_, pending_rcpt_);
  if (d.kind() != Decision::Kind::kDefer) apply(Pending::kRcpt, d);
}

void ServerSession::cmd_data(std::string_view arg) {
  if (!arg.empty()) return refuse("DATA", reply(501, "5.5.4", "Syntax: DATA"));
  if (phase_ == Phase::kNeedHelo) return refuse("DATA", reply(503, "5.5.1", "Error: send HELO/EHLO first"));
  if (phase_ == Phase::kReady) return refuse("DATA", reply(503, "5.5.1", "Error: need MAIL command"));
  if (phase_ == Phase::kMail) return refuse("DATA", reply(554, "5.5.1", "Error: no valid recipients"));
  if (txn_.bdat) return refuse("DATA", reply(503, "5.5.1", "Error: DATA after BDAT"));
  if (std::optional<Reply> no = h_.on_data_begin()) return refuse("DATA", *no);
  phase_ = Phase::kData;
  scanner_.begin(/*dot_mode=*/true);
  append_reply(out_, reply(354, "", "End data with <CR><LF>.<CR><LF>"));
}

void ServerSession::cmd_bdat(std::string_view arg) {
  // RFC 3030 2: "BDAT" SP chunk-size [ SP end-marker ]. Without a readable size the chunk
  // cannot be skipped, so the session cannot continue safely.
  size_t sp = arg.find(' ');
  std::string_view num = arg.substr(0, sp);
  std::string_view tail = sp == std::string_view::npos ? std::string_view{} : arg.substr(sp + 1);
  uint64_t n = 0;
  bool ok = !num.empty() && num.size() <= 19 && (tail.empty() || iequals(tail, "LAST"));
  for (char c : num) {
    if (c < '0' || c > '9') ok = false;
    else n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok) {
    h_.on_refused("BDAT", reply(554, "5.5.4", "malformed BDAT"));
    return close_with(reply(554, "5.5.4", cfg_.hostname + " Error: malformed BDAT command"));
  }
  bool last = !tail.empty();
  bdat_left_ = n;
  if (phase_ != Phase::kRcpt || !esmtp_) {
    // The chunk follows regardless of our answer: read and drop it, then carry on.
    Reply r = !esmtp_                    ? reply(503, "5.5.1", "Error: BDAT needs EHLO")
              : phase_ == Phase::kMail   ? reply(554, "5.5.1", "Error: no valid recipients")
              : phase_ == Phase::kReady  ? reply(503, "5.5.1", "Error: need MAIL command")
                                         : reply(503, "5.5.1", "Error: send HELO/EHLO first");
    after_discard_ = phase_;
    phase_ = n ? Phase::kBdatDiscard : after_discard_;
    refuse("BDAT", r);
    return;
  }
  if (!txn_.bdat) {
    if (std::optional<Reply> no = h_.on_data_begin()) {
      // The chunk follows regardless: it is read and dropped, and the transaction is over
      // (a later chunk must never become the start of a message).
      reset_transaction();
      bdat_left_ = n;
      after_discard_ = phase_;
      phase_ = n ? Phase::kBdatDiscard : after_discard_;
      refuse("BDAT", *no);
      return;
    }
    txn_.bdat = true;
    scanner_.begin(/*dot_mode=*/false);
  } else {
    scanner_.continue_chunk();
  }
  bdat_last_ = last;
  phase_ = Phase::kBdat;
  if (n == 0) body_input(ByteSpan{});
}

void ServerSession::cmd_rset(std::string_view arg) {
  if (!arg.empty()) return refuse("RSET", reply(501, "5.5.4", "Syntax: RSET"));
  reset_transaction();
  send(reply(250, "2.0.0", "Ok"));
}

void ServerSession::cmd_noop(std::string_view) { send(reply(250, "2.0.0", "Ok")); }

void ServerSession::cmd_quit(std::string_view) {
  h_.on_quit();
  close_with(reply(221, "2.0.0", "Bye"));
}

void ServerSession::cmd_vrfy(std::string_view arg) {
  if (arg.empty()) return refuse("VRFY", reply(501, "5.5.4", "Syntax: VRFY address"));
  // RFC 5321 3.5.3: 252 when we will not confirm addresses.
  send(reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery"));
}

void ServerSession::cmd_starttls(std::string_view arg) {
  if (!cfg_.starttls) return refuse("STARTTLS", reply(502, "5.5.1", "Error: command not implemented"));
  if (tls_active_) return refuse("STARTTLS", reply(503, "5.5.1", "Error: TLS already active"));
  if (!arg.empty()) return refuse("STARTTLS", reply(501, "5.5.4", "Syntax: STARTTLS"));
  if (!esmtp_) return refuse("STARTTLS", reply(503, "5.5.1", "Error: send EHLO first"));
  if (phase_ == Phase::kMail || phase_ == Phase::kRcpt)
    return refuse("STARTTLS", reply(503, "5.5.1", "Error: MAIL transaction in progress"));
  append_reply(out_, reply(220, "2.0.0", "Ready to start TLS"));
  in_.clear();  // anything pipelined behind STARTTLS was sent in clear: never read
  starttls_requested_ = true;
}

void ServerSession::cmd_simple(std::string_view verb) {
  if (iequals(verb, "HELP")) return send(reply(214, "2.0.0", "See RFC 5321"));
  refuse(verb, reply(502, "5.5.1", "Error: command not implemented"));
}

}  // namespace mx::smtp
