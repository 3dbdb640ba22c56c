// dataplane/gateway_session.cc — an inbound SMTP session on the data plane (see gateway.h).
#include "dataplane/gateway_session.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "scan/rules.h"

namespace mx::dp {
namespace {


void kv(std::string& o, const char* k, std::string_view v) {
  o += ",\"";
  o += k;
  o += "\":";
  json_string(o, v);
}
void kn(std::string& o, const char* k, uint64_t v) {
  o += ",\"";
  o += k;
  o += "\":";
  o += std::to_string(v);
}
uint64_t ms(uint64_t a, uint64_t b) { return b > a ? (b - a) / kNsPerMs : 0; }
// "mail_from" and "rcpts" of a log record.
void envelope_fields(std::string& o, const smtp::Transaction& txn) {
  kv(o, "mail_from", txn.from.null_path ? "" : txn.from.address());
  o += ",\"rcpts\":[";
  for (size_t i = 0; i < txn.rcpts.size(); ++i) {
    if (i) o += ',';
    json_string(o, txn.rcpts[i].mailbox.address());
  }
  o += "]";
}

}  // namespace

InSession::InSession(Gateway& gw, net::TcpConn* c, Tick now)
    : gw_(gw), conn_(c), snap_(gw.snap_), sc_(gw.server_cfg_, gw.sh_.tls, *this) {
  client_ip_ = c->t.remote.to_string();
  client_port_ = c->t.remote_port;
  connect_ns_ = now.ns;
}

InSession::~InSession() {
  drop_job();
  if (relay_) relay_->detach();
  if (verify_) {
    verify_->detach();
    --gw_.rcpt_checks_;
  }
}

void InSession::start(Tick now) {
  conn_->handler = this;
  out_progress_ns_ = now.ns;
  sc_.start(now);
  pump(now);  // bytes that arrived before accept (a client talking before the greeting)
}

// The job is the scan thread's until it comes back; then it is ours to delete.
void InSession::drop_job() {
  if (!job_) return;
  if (job_posted_) {
    job_->session = nullptr;
    job_->aborted.store(true, std::memory_order_release);
    job_->complete.store(true, std::memory_order_release);
  } else {
    delete job_;
  }
  job_ = nullptr;
  job_posted_ = false;
}

void InSession::destroy() {
  if (dead_) return;
  dead_ = true;
  drop_job();
  out_.reset();
  if (relay_) {
    relay_->detach();
    relay_ = nullptr;
  }
  if (verify_) {
    verify_->detach();
    verify_ = nullptr;
    --gw_.rcpt_checks_;
  }
  if (conn_) {
    conn_->handler = nullptr;
    gw_.tcp_.close(*conn_);
    conn_ = nullptr;
  }
  gw_.forget(this);
}

// The connection is gone (reset, timed out, or closed by us). A transaction whose final reply
// was pending still gets its log record: the session lives on without a connection until the
// outcome is known (nothing is quarantined or spooled for a sender who never saw 250; a relay
// already under way completes).
void InSession::connection_lost() {
  if (conn_) {
    conn_->handler = nullptr;
    gw_.tcp_.close(*conn_);
    conn_ = nullptr;
  }
  if (eod_ && !dead_ && !gone_) {
    gone_ = true;
    ++gw_.ctr_.client_gone;
    return;
  }
  if (in_txn_ && !dead_ && !gone_) log_abandoned();
  if (!gone_) destroy();
}

void InSession::pump(Tick now) {
  if (dead_ || !conn_) return;
  flush();
  // Input is read only while the replies are being taken: a client that stops reading (a zero
  // window) stops being read, so what it can make us hold stays bounded (smtp_limits.h).
  while (!dead_ && conn_ && !sc_.output_full()) {
    sc_.process_buffered(now);
    flush();
    if (dead_ || !conn_ || sc_.output_full() || !gw_.tcp_.readable(*conn_)) break;
    ByteSpan b = gw_.tcp_.peek(*conn_);
    if (b.empty()) break;
    const size_t used = sc_.feed(b, now);
    gw_.tcp_.consume(*conn_, static_cast<uint32_t>(used));
    if (dead_ || !conn_) return;
    flush();
    if (used < b.size()) break;  // a decision is pending, or output is full: the rest waits
  }
  flush();
}

void InSession::flush() {
  if (dead_ || !conn_) return;
  std::string_view out = sc_.output();
  if (!out.empty()) {
    const uint32_t n = gw_.tcp_.send(*conn_, ByteSpan(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
    sc_.consume_output(n);
    if (n) out_progress_ns_ = gw_.tcp_.now().ns;
  }
  if (sc_.output().empty()) {
    out_progress_ns_ = gw_.tcp_.now().ns;
    // A client that half-closed after pipelining gets every reply: close only once nothing it
    // sent is left to process (the engine's buffers, the TCP receive queue).
    const bool drained = !sc_.session().awaiting_decision() && !sc_.has_buffered_input() &&
                         gw_.tcp_.readable(*conn_) == 0;
    if (sc_.wants_close() || (peer_closed_ && drained)) connection_lost();
  }
}

void InSession::tick(Tick now) {
  if (dead_ || gone_) return;
  sc_.tick(now);
  pump(now);
  if (dead_ || !conn_ || sc_.output().empty()) return;
  // Replies nobody reads: abort (RST) instead of holding them and the session for ever.
  if (now.ns - out_progress_ns_ >= uint64_t{gw_.sh_.cfg->output_stall_s} * kNsPerSec) {
    ++gw_.ctr_.output_stalled;
    log_refusal("output", "", smtp::reply(421, "4.4.2", "client does not read its replies: connection aborted"));
    conn_->handler = nullptr;
    gw_.tcp_.abort(*conn_);
    conn_ = nullptr;
    connection_lost();
  }
}

void InSession::on_data(net::TcpConn&) { pump(gw_.tcp_.now()); }
void InSession::on_writable(net::TcpConn&) { pump(gw_.tcp_.now()); }
void InSession::on_peer_closed(net::TcpConn&) {
  // The sender half-closed: no more commands; close once every pending reply is sent.
  // A client may half-close after pipelining QUIT: the pending replies are still sent.
  peer_closed_ = true;
  flush();
}
void InSession::on_closed(net::TcpConn&, net::TcpError) {
  // Gone (reset or timed out): the sender never saw a final reply still pending, so nothing
  // was promised; the transaction is still logged (connection_lost).
  conn_ = nullptr;
  connection_lost();
}

smtp::Decision InSession::on_connect() { return smtp::Decision::accept(); }

// What the SMTP engine refused on its own (syntax, sequence, limits, smuggling): logged, at most
// kMaxLoggedRefusals per session so that a client sending garbage cannot flood the log.
void InSession::on_refused(std::string_view what, const smtp::Reply& r) {
  if (++refusals_logged_ > kMaxLoggedRefusals) return;
  log_refusal("smtp", what, r);
}

smtp::Decision InSession::on_mail(const smtp::Mailbox&, const smtp::MailParams&) {
  tenant_ = nullptr;
  key_ = {};
  in_txn_ = true;
  return smtp::Decision::accept();
}

smtp::Decision InSession::on_rcpt(const smtp::Mailbox& m, const smtp::RcptParams&) {
  const smtp::Reply denied = smtp::reply(550, "5.7.1", "relaying denied: " + gw_.sh_.cfg->hostname +
                                                           " accepts mail only for its customers' domains");
  if (!snap_ || m.domain_literal || m.routing_chars || m.source_route || m.domain.empty()) {
    ++gw_.ctr_.relay_denied;
    log_refusal("rcpt", m.address(), denied);
    return smtp::Decision::with(denied);
  }
  PolicyKey key;
  const Tenant* t = snap_->lookup(m.local, m.domain, key);
  if (!t) {
    ++gw_.ctr_.relay_denied;
    log_refusal("rcpt", m.address(), denied);
    return smtp::Decision::with(denied);
  }
  if (tenant_ && !(key == key_)) {
    ++gw_.ctr_.policy_split;
    return smtp::Decision::with(
        smtp::reply(452, "4.5.3", "recipient has a different policy: send it in a separate transaction"));
  }
  if (t->verify_recipients) {
    std::string ck = t->name + '\n' + ascii_lower(m.address());
    const uint64_t now_ns = gw_.tcp_.now().ns;
    if (const smtp::Reply* no = gw_.recipient_refused(ck, now_ns)) {
      log_refusal("rcpt", m.address(), *no);
      return smtp::Decision::with(*no);
    }
    // Over kMaxRcptChecks open checks the recipient is taken unchecked (the relay decides at
    // the end), so a flood of unknown recipients cannot turn into a flood on the tenant's server.
    if (!gw_.recipient_verified(ck, now_ns) && gw_.rcpt_checks_ < kMaxRcptChecks)
      return check_recipient(t, key, m, std::move(ck));
  }
  tenant_ = t;
  key_ = key;
  return smtp::Decision::accept();
}

// The RCPT waits for the tenant's server's answer to the same RCPT (no DATA is sent).
smtp::Decision InSession::check_recipient(const Tenant* t, const PolicyKey& key, const smtp::Mailbox& m,
                                          std::string cache_key) {
  check_tenant_ = t;
  check_key_ = key;
  check_rcpt_ = m.address();
  check_cache_key_ = std::move(cache_key);
  const smtp::Transaction& txn = sc_.session().transaction();
  smtp::ClientMessage cm;
  cm.from = txn.from.null_path ? std::string() : txn.from.address();
  cm.params = txn.params;
  cm.rcpts.push_back(smtp::ClientRecipient{check_rcpt_, {}});
  RelayTarget to{t->route_ip, t->route_port, t->route_tls, t->route_tls_name, /*verify_only=*/true};
  auto* r = new RelayConn(gw_, &rcpt_check_, to, std::move(cm), std::make_unique<OutMessage>());
  verify_ = r;
  ++gw_.rcpt_checks_;
  gw_.relays_.push_back(r);
  sync_decision_.reset();
  in_rcpt_ = true;
  r->start(gw_.tcp_.now());  // may report at once (no connection): then the answer is here
  in_rcpt_ = false;
  if (sync_decision_) {
    smtp::Decision d = *sync_decision_;
    sync_decision_.reset();
    return d;
  }
  return smtp::Decision::defer();
}

void RcptCheck::on_relay_done(const smtp::ClientResult& r, Tick now) { s_->on_rcpt_checked(r, now); }

// The tenant's server answered the recipient check. Its refusal of the RCPT is the sender's
// answer; anything inconclusive (no connection, TLS, the MAIL refused, a timeout) accepts the
// recipient, and the relay at end of data decides as it always does.
void InSession::on_rcpt_checked(const smtp::ClientResult& res, Tick now) {
  if (verify_) {
    verify_->detach();
    --gw_.rcpt_checks_;
  }
  verify_ = nullptr;
  smtp::Decision d = smtp::Decision::accept();
  if (res.outcome == smtp::ClientResult::Outcome::kDelivered) {
    gw_.remember_recipient(check_cache_key_, now.ns);
  } else if (res.stage == "rcpt" && !res.rcpt_replies.empty() && !res.rcpt_replies[0].positive()) {
    smtp::Reply pass = res.rcpt_replies[0];
    if (pass.enhanced.empty()) pass.enhanced = pass.code >= 500 ? "5.1.1" : "4.2.0";
    pass.text = "downstream: " + pass.text;
    ++gw_.ctr_.rcpt_refused_downstream;
    if (pass.code >= 500) gw_.remember_refusal(check_cache_key_, pass, now.ns);
    log_refusal("rcpt", check_rcpt_, pass);
    d = smtp::Decision::with(pass);
  }
  if (d.kind() == smtp::Decision::Kind::kAccept) {
    tenant_ = check_tenant_;
    key_ = check_key_;
  }
  if (in_rcpt_) {
    sync_decision_ = d;
    return;
  }
  if (dead_ || gone_) return;
  sc_.resume(d, now);
  pump(now);
}

namespace {
smtp::Reply no_memory_reply() {
  return smtp::reply(452, "4.3.1", "insufficient system storage for messages in flight, try again later");
}
}  // namespace

std::optional<smtp::Reply> InSession::on_data_begin() {
  drop_job();
  out_.reset();
  job_overflow_ = false;
  over_budget_ = false;
  relay_result_ = {};
  relay_start_ns_ = 0;
  data_start_ns_ = gw_.tcp_.now().ns;
  if (!tenant_) return std::nullopt;
  if (gw_.sh_.msg_mem.over() || gw_.msg_mem_.over()) {
    ++gw_.ctr_.memory_refused;
    return no_memory_reply();  // logged by the engine's refusal (on_refused)
  }
  const smtp::Transaction& txn = sc_.session().transaction();
  auto* j = new MsgJob(gw_.sh_.cfg->max_message_size + 1, &gw_.sh_.msg_mem, &gw_.msg_mem_);
  j->id = gw_.new_id();
  j->snapshot = snap_;
  j->tenant = tenant_;
  j->user = snap_->user(key_.user);
  j->env.mail_from = txn.from.null_path ? std::string() : txn.from.address();
  for (const smtp::Recipient& r : txn.rcpts) j->env.rcpts.push_back(r.mailbox.address());
  j->env.client_ip = client_ip_;
  j->env.client_ipv4 = conn_ ? std::optional<Ipv4Addr>(conn_->t.remote) : std::nullopt;
  j->env.helo = std::string(sc_.session().helo_name());
  j->reply_ring = gw_.scan_reply_;
  j->session = this;
  job_ = j;
  if (!j->store.ok()) return std::nullopt;  // answered 451 at the end
  job_posted_ = gw_.sh_.scan->post(j);
  if (!job_posted_) ++gw_.ctr_.scan_ring_full;
  return std::nullopt;
}

void InSession::on_data(ByteSpan b) {
  if (!job_ || !job_posted_ || job_overflow_ || over_budget_) return;
  // The budget holds while the message grows: past it the message is given up at once (its
  // memory comes back when the scan thread lets go of it) and refused with 452 at its end.
  if (gw_.sh_.msg_mem.used.load(std::memory_order_relaxed) + b.size() > gw_.sh_.msg_mem.limit ||
      gw_.msg_mem_.used.load(std::memory_order_relaxed) + b.size() > gw_.msg_mem_.limit) {
    over_budget_ = true;
    ++gw_.ctr_.memory_refused;
    drop_job();
    return;
  }
  if (!job_->store.append(b)) {
    job_overflow_ = true;
    return;
  }
  job_->committed.store(job_->store.size(), std::memory_order_release);
}

smtp::Decision InSession::on_end_of_data(const smtp::EndOfData& eod) {
  ++gw_.ctr_.messages;
  data_end_ns_ = gw_.tcp_.now().ns;
  if (over_budget_) {
    ++gw_.ctr_.tempfailed;
    log_refusal("data", std::to_string(eod.size) + " bytes", no_memory_reply());
    return smtp::Decision::with(no_memory_reply());
  }
  if (!job_ || !job_posted_ || job_overflow_) {
    const smtp::Reply r = smtp::reply(451, "4.3.0", "scanner busy, try again later");
    ++gw_.ctr_.tempfailed;
    drop_job();
    log_refusal("data", "", r);
    return smtp::Decision::with(r);
  }
  const uint64_t limit = tenant_->max_message_size ? tenant_->max_message_size : gw_.sh_.cfg->max_message_size;
  if (eod.size > limit) {
    drop_job();
    ++gw_.ctr_.rejected;
    const smtp::Reply r = smtp::reply(552, "5.3.4", "message exceeds the recipient's size limit");
    log_refusal("data", std::to_string(eod.size) + " bytes", r);
    return smtp::Decision::with(r);
  }
  job_->complete.store(true, std::memory_order_release);
  eod_ = true;
  return smtp::Decision::defer();
}

void InSession::on_reset() {
  in_txn_ = false;
  drop_job();
  out_.reset();
  tenant_ = nullptr;
  key_ = {};
}

void InSession::on_scanned(MsgJob* job, Tick now) {
  job_posted_ = false;  // back on this lcore
  if (job != job_) {
    delete job;
    return;
  }
  act(now);
}

void InSession::act(Tick now) {
  const scan::Verdict& v = job_->verdict;
  if (gone_) {
    // Nobody is waiting for the reply: log the verdict, act on nothing (the sender retries).
    finish(smtp::reply(421, "4.4.2", "client gone before the final reply: nothing delivered"), "abandoned", now);
    return;
  }
  if (!job_->scanned) {
    ++gw_.ctr_.tempfailed;
    finish(smtp::reply(451, "4.3.0", "message could not be scanned, try again later"), "tempfail", now);
    return;
  }
  switch (v.action) {
    case scan::PolicyAction::kReject:
      ++gw_.ctr_.rejected;
      if (v.cls == scan::VerdictClass::kMalware)
        finish(smtp::reply(554, "5.7.1", "message rejected: malware found" +
                                              (job_->av_names.empty() ? std::string() : " (" + job_->av_names[0] + ")")),
               "reject", now);
      else
        finish(smtp::reply(550, "5.7.1", "message rejected by policy (" +
                                              std::string(scan::verdict_class_name(v.cls)) + ")"),
               "reject", now);
      return;
    case scan::PolicyAction::kTempfail:
      ++gw_.ctr_.tempfailed;
      finish(smtp::reply(451, "4.7.1", "message deferred by policy, try again later"), "tempfail", now);
      return;
    case scan::PolicyAction::kQuarantine:
      quarantine(now);
      return;
    case scan::PolicyAction::kTag:
    case scan::PolicyAction::kDeliver:
      relay(now);
      return;
  }
}

// A request that writes the message (out_) durably; the request takes it over in finish().
IoReq* InSession::message_request(IoKind kind) {
  auto* req = new IoReq;
  req->kind = kind;
  req->id = job()->id;
  return req;
}

// The final reply, after the log record is durable (I/O thread). A prepared request that
// writes the message takes out_ with it: the bytes belong to the request until it is deleted.
void InSession::finish(const smtp::Reply& r, std::string_view action, Tick, IoReq* prepared) {
  auto* req = prepared ? prepared : new IoReq;
  req->log_line = log_record(r, action);
  const MsgJob* j = job();  // counted by the class and action the record carries
  ++gw_.ctr_.messages_by[j && j->scanned ? static_cast<size_t>(j->verdict.cls) : kMessageClassSlots - 1]
                        [message_action_slot(action)];
  req->reply_ring = gw_.io_reply_;
  req->session = this;
  req->session_gen = gen;
  if (prepared && out_ && (prepared->kind != IoKind::kLog || !prepared->bounce_rcpts.empty())) {
    req->message = out_->parts;
    req->out = std::move(out_);
  }
  final_ = r;
  gw_.post_io(req);  // when the ring is full it waits in order and is posted on the next poll
  awaiting_io_ = true;
}

void InSession::quarantine(Tick now) {
  // Stored as it would be relayed on release: forged X-Mxgate-* fields left out.
  const uint64_t id = job_->id;
  std::string m = "{\"id\":" + std::to_string(id);
  kv(m, "tenant", tenant_->name);
  kv(m, "mail_from", job_->env.mail_from);
  m += ",\"rcpts\":[";
  for (size_t i = 0; i < job_->env.rcpts.size(); ++i) {
    if (i) m += ',';
    json_string(m, job_->env.rcpts[i]);
  }
  m += "]";
  kv(m, "client_ip", client_ip_);
  kv(m, "helo", job_->env.helo);
  kv(m, "class", scan::verdict_class_name(job_->verdict.cls));
  kv(m, "score", scan::format_score(job_->verdict.score));
  kv(m, "reason", job_->verdict.reason);
  m += "}\n";
  out_ = make_out_message(std::unique_ptr<MsgJob>(job_), {}, "");
  job_ = nullptr;
  IoReq* req = message_request(IoKind::kQuarantine);
  req->meta = std::move(m);
  req->envelope = format_spool_meta(spool_meta());
  finish(smtp::reply(250, "2.0.0", "Ok: " + std::to_string(id) + " quarantined"), "quarantine", now, req);
}

void InSession::on_io_done(IoReq* r, Tick now) {
  if (dead_ || !awaiting_io_) return;
  awaiting_io_ = false;
  eod_ = false;
  smtp::Reply reply = final_;
  if (!r->ok && reply.positive()) {
    // Nothing durable, nothing promised: the sender keeps the message and retries.
    reply = smtp::reply(451, "4.3.0", "local write error, try again later");
    ++gw_.ctr_.tempfailed;
  } else if (r->kind == IoKind::kQuarantine) {
    ++gw_.ctr_.quarantined;
  } else if (spooled_) {
    ++gw_.ctr_.spooled;
  } else if (relayed_ && reply.positive()) {
    ++gw_.ctr_.delivered;
  }
  drop_job();
  out_.reset();
  relayed_ = false;
  spooled_ = false;
  in_txn_ = false;
  if (gone_) {
    destroy();
    return;
  }
  sc_.resume(smtp::Decision::with(reply), now);
  pump(now);
}

void InSession::relay(Tick now) {
  const scan::Verdict& v = job_->verdict;
  static const std::vector<std::pair<std::string, std::string>> kNone;
  const bool tag = v.action == scan::PolicyAction::kTag;
  out_ = make_out_message(std::unique_ptr<MsgJob>(job_), tag ? v.headers : kNone, tag ? v.subject_prefix : std::string());
  job_ = nullptr;
  relay_start_ns_ = now.ns;
  const smtp::Transaction& txn = sc_.session().transaction();
  smtp::ClientMessage cm;
  cm.from = txn.from.null_path ? std::string() : txn.from.address();
  cm.params = txn.params;
  for (const smtp::Recipient& rc : txn.rcpts) cm.rcpts.push_back(smtp::ClientRecipient{rc.mailbox.address(), rc.params});
  RelayTarget to{tenant_->route_ip, tenant_->route_port, tenant_->route_tls, tenant_->route_tls_name};
  auto* r = new RelayConn(gw_, this, to, std::move(cm), std::move(out_));
  relay_ = r;
  gw_.relays_.push_back(r);
  r->start(now);  // reports failures through on_relay_done
}

void InSession::on_relay_done(const smtp::ClientResult& res, Tick now) {
  RelayConn* r = relay_;
  relay_ = nullptr;
  // The message comes back to this session for the log record and what follows.
  if (r) out_ = r->take_out();
  relay_result_ = res;
  const MsgJob* j = job();
  using O = smtp::ClientResult::Outcome;
  size_t accepted = 0;
  for (size_t i = 0; i < res.rcpt_replies.size(); ++i) accepted += res.accepted(i);
  const std::string action = std::string(scan::policy_action_name(j ? j->verdict.action : scan::PolicyAction::kDeliver));
  if (res.outcome == O::kDelivered && accepted > 0) {
    relayed_ = true;
    finish(smtp::reply(250, "2.0.0", "Ok: " + std::to_string(j ? j->id : 0) + " delivered to " +
                                         (j ? j->tenant->name : std::string()) + " (" +
                                         std::to_string(res.reply.code) + ")"),
           action, now, gone_ ? nullptr : partial_failures(res));
  } else if (gone_) {
    ++gw_.ctr_.relay_failed;
    finish(smtp::reply(421, "4.4.2", "client gone before the final reply: nothing delivered"), "abandoned", now);
  } else if (res.outcome == O::kPermFail ||
             (res.outcome == O::kDelivered && accepted == 0 &&
              std::all_of(res.rcpt_replies.begin(), res.rcpt_replies.end(), [](const smtp::Reply& x) { return x.code >= 500; }))) {
    ++gw_.ctr_.rejected;
    smtp::Reply pass = res.reply.code >= 500 ? res.reply : smtp::reply(550, "5.1.1", "every recipient was refused downstream");
    if (pass.enhanced.empty()) pass.enhanced = "5.0.0";
    pass.text = "downstream: " + pass.text;
    finish(pass, action, now);
  } else if (j && j->tenant->spool) {
    ++gw_.ctr_.relay_failed;
    spool(now);
  } else {
    ++gw_.ctr_.relay_failed;
    ++gw_.ctr_.tempfailed;
    finish(smtp::reply(451, "4.4.1", "customer's server unavailable (" + res.stage + ": " +
                                         std::to_string(res.reply.code) + "), try again later"),
           action, now);
  }
  if (r) r->detach();
}

// The sender gets 250 because some recipients were accepted downstream; the others must not be
// lost silently (RFC 5321 6.1): 4xx ones are spooled for retry (whatever the tenant's `spool`,
// which is about accepting mail while its server is down: this message is accepted already, and
// a temporary refusal is never bounced at once), 5xx ones get a DSN (headers only). Both are written by the I/O thread together with the log
// record, before the 250. Null when every recipient was accepted.
IoReq* InSession::partial_failures(const smtp::ClientResult& res) {
  if (!out_) return nullptr;
  const SpoolMeta base = spool_meta();
  SpoolMeta retry = base;
  retry.rcpts.clear();
  std::vector<DsnFailure> failed;
  for (size_t i = 0; i < res.rcpt_replies.size() && i < base.rcpts.size(); ++i) {
    const smtp::Reply& rr = res.rcpt_replies[i];
    if (rr.positive()) continue;
    const std::string diag = std::to_string(rr.code) + " " + rr.enhanced + " " + rr.text;
    if (rr.transient()) {
      retry.rcpts.push_back(base.rcpts[i]);
    } else {
      failed.push_back(DsnFailure{base.rcpts[i], rr.enhanced.empty() ? (rr.transient() ? "4.0.0" : "5.0.0") : rr.enhanced,
                                  diag, tenant_->route_ip.to_string()});
    }
  }
  if (failed.empty() && retry.rcpts.empty()) return nullptr;
  IoReq* req = message_request(IoKind::kLog);
  if (!retry.rcpts.empty()) {
    req->kind = IoKind::kSpool;
    retry.last = "recipients deferred by the customer's server";
    req->meta = format_spool_meta(retry);
    ++gw_.ctr_.spooled;
  }
  req->bounce_rcpts = std::move(failed);
  req->bounce_meta = base;
  return req;
}

// The transaction's envelope in the spool format (dataplane/spool.h).
SpoolMeta InSession::spool_meta() {
  const smtp::Transaction& txn = sc_.session().transaction();
  const GatewaySpool& sp = gw_.sh_.spool;
  SpoolMeta m;
  m.id = job()->id;
  m.tenant = tenant_->name;
  m.route_ip = tenant_->route_ip;
  m.route_port = tenant_->route_port;
  m.tls = tenant_->route_tls;
  m.from = txn.from.null_path ? std::string() : txn.from.address();
  m.params = txn.params;
  m.params.size.reset();
  for (const smtp::Recipient& rc : txn.rcpts) m.rcpts.push_back(SpoolRcpt{rc.mailbox.address(), rc.params});
  m.created = static_cast<uint64_t>(std::time(nullptr));
  m.expires = m.created + sp.lifetime_s;
  m.next = m.created + sp.retry_min_s;
  return m;
}

// The tenant's server is unavailable and the tenant allows spooling: the message (as it would
// have been relayed) and its envelope are written durably, then 250.
void InSession::spool(Tick now) {
  SpoolMeta m = spool_meta();
  m.last = std::to_string(relay_result_.reply.code) + " " + relay_result_.reply.enhanced + " " +
           relay_result_.reply.text + " (" + relay_result_.stage + ")";
  IoReq* req = message_request(IoKind::kSpool);
  req->meta = format_spool_meta(m);
  spooled_ = true;
  finish(smtp::reply(250, "2.0.0", "Ok: " + std::to_string(m.id) +
                                       " spooled: the customer's server is unavailable, delivery will be retried"),
         "spool", now, req);
}

// A log line nobody waits for (refusals, abandoned transactions): it waits for room in the I/O
// ring like every request, and is dropped (counted, io_dropped) only past kMaxIoBacklog.
void InSession::post_log(std::string line) {
  auto* req = new IoReq;
  req->log_line = std::move(line);
  if (!gw_.post_io(req, true)) delete req;
}

// A transaction the client walked away from before its final dot (reset, timeout, or aborted):
// one record all the same, with how far it got.
void InSession::log_abandoned() {
  const smtp::Transaction& txn = sc_.session().transaction();
  std::string o = "{\"time\":";
  json_string(o, log_time());
  kv(o, "event", "abandoned");
  kv(o, "stage", job_ || over_budget_ ? "data" : txn.rcpts.empty() ? "mail" : "rcpt");
  kv(o, "client_ip", client_ip_);
  kn(o, "client_port", client_port_);
  kv(o, "helo", sc_.session().helo_name());
  kv(o, "tenant", tenant_ ? tenant_->name : "");
  envelope_fields(o, txn);
  kn(o, "bytes", job_ ? job_->store.size() : 0);
  o += "}\n";
  post_log(std::move(o));
}

void InSession::log_refusal(std::string_view stage, std::string_view arg, const smtp::Reply& r) {
  ++gw_.ctr_.refusals_by[refusal_stage_slot(stage)];
  std::string o = "{\"time\":";
  json_string(o, log_time());
  kv(o, "event", "refused");
  kv(o, "stage", stage);
  kv(o, "client_ip", client_ip_);
  kn(o, "client_port", client_port_);
  kv(o, "helo", sc_.session().helo_name());
  kv(o, "mail_from", sc_.session().transaction().from.address());
  kv(o, "arg", arg);
  kv(o, "reply", std::to_string(r.code) + " " + r.enhanced + " " + r.text);
  o += "}\n";
  post_log(std::move(o));
}

std::string InSession::log_record(const smtp::Reply& r, std::string_view action) {
  const uint64_t now_ns = gw_.tcp_.now().ns;
  std::string o = "{\"time\":";
  json_string(o, log_time());
  kv(o, "event", "message");
  const MsgJob* j = job();
  kn(o, "id", j ? j->id : 0);
  kv(o, "tenant", tenant_ ? tenant_->name : "");
  kv(o, "client_ip", client_ip_);
  kn(o, "client_port", client_port_);
  kv(o, "helo", sc_.session().helo_name());
  if (const smtp::TlsInfo* t = sc_.tls_info()) {
    o += ",\"tls\":{\"protocol\":";
    json_string(o, t->protocol);
    kv(o, "cipher", t->cipher);
    kv(o, "sni", t->sni);
    o += "}";
  } else {
    o += ",\"tls\":null";
  }
  const smtp::Transaction& txn = sc_.session().transaction();
  envelope_fields(o, txn);
  if (j) {
    if (j->scanned) {  // the header fields the MIME parser read
      kv(o, "message_id", std::string_view(j->header.message_id).substr(0, kMaxLogSubject));
      kv(o, "subject", std::string_view(j->header.subject).substr(0, kMaxLogSubject));
    } else {  // not scanned (aborted, scanner error): the first bytes of the raw header
      const ByteSpan msg(j->store.data(), j->store.size());
      kv(o, "message_id", header_value(msg, "message-id", kMaxLogSubject));
      kv(o, "subject", header_value(msg, "subject", kMaxLogSubject));
    }
    kn(o, "size", j->store.size());
    const scan::Verdict& v = j->verdict;
    kv(o, "class", j->scanned ? scan::verdict_class_name(v.cls) : "unscanned");
    if (!j->scanned && !j->scan_error.empty()) kv(o, "scan_error", j->scan_error);
    kv(o, "score", scan::format_score(v.score));
    o += ",\"rules\":[";
    for (size_t i = 0; i < v.rules.size(); ++i) {
      if (i) o += ',';
      json_string(o, v.rules[i]);
    }
    o += "],\"av\":[";
    for (size_t i = 0; i < j->av_names.size(); ++i) {
      if (i) o += ',';
      json_string(o, j->av_names[i]);
    }
    o += "]";
    kv(o, "reason", v.reason);
  }
  kv(o, "action", action);
  if (relay_result_.outcome != smtp::ClientResult::Outcome::kPending) {
    const smtp::Reply& d = relay_result_.reply;
    kv(o, "downstream", std::to_string(d.code) + " " + d.enhanced + " " + d.text);
    kv(o, "downstream_stage", relay_result_.stage);
    o += ",\"downstream_rcpts\":[";
    for (size_t i = 0; i < relay_result_.rcpt_replies.size(); ++i) {
      if (i) o += ',';
      json_string(o, std::to_string(relay_result_.rcpt_replies[i].code) + " " + relay_result_.rcpt_replies[i].text);
    }
    o += "]";
    o += relay_result_.tls ? ",\"downstream_tls\":true" : ",\"downstream_tls\":false";
  }
  kv(o, "reply", std::to_string(r.code) + " " + r.enhanced + " " + r.text);
  kn(o, "data_ms", ms(data_start_ns_, data_end_ns_));
  kn(o, "scan_cpu_us", j ? j->scan_ns / 1000 : 0);
  if (gone_) o += ",\"client_gone\":true";
  kn(o, "relay_ms", relay_start_ns_ ? ms(relay_start_ns_, now_ns) : 0);
  kn(o, "session_ms", ms(connect_ns_, now_ns));
  o += "}\n";
  return o;
}

}  // namespace mx::dp
