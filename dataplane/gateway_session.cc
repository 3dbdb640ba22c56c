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
}

void InSession::start(Tick now) {
  conn_->handler = this;
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
  if (relay_) {
    relay_->detach();
    relay_ = nullptr;
  }
  if (conn_) {
    conn_->handler = nullptr;
    gw_.tcp_.close(*conn_);
    conn_ = nullptr;
  }
  gw_.forget(this);
}

void InSession::pump(Tick now) {
  if (dead_ || !conn_) return;
  while (gw_.tcp_.readable(*conn_)) {
    ByteSpan b = gw_.tcp_.peek(*conn_);
    if (b.empty()) break;
    const size_t used = sc_.feed(b, now);
    gw_.tcp_.consume(*conn_, static_cast<uint32_t>(used));
    if (dead_ || !conn_) return;
    if (used < b.size()) break;  // a decision is pending: the rest waits
  }
  flush();
}

void InSession::flush() {
  if (dead_ || !conn_) return;
  std::string_view out = sc_.output();
  if (!out.empty()) {
    const uint32_t n = gw_.tcp_.send(*conn_, ByteSpan(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
    sc_.consume_output(n);
  }
  if (sc_.output().empty() && (sc_.wants_close() || (peer_closed_ && !sc_.session().awaiting_decision())))
    destroy();
}

void InSession::tick(Tick now) {
  if (dead_) return;
  sc_.tick(now);
  flush();
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
  // Gone (reset or timed out): a transaction without its final reply is abandoned — the sender
  // never saw 250, so nothing was promised (a relay already under way still completes).
  conn_ = nullptr;
  destroy();
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
  tenant_ = t;
  key_ = key;
  return smtp::Decision::accept();
}

void InSession::on_data_begin() {
  drop_job();
  job_overflow_ = false;
  relay_result_ = {};
  relay_start_ns_ = 0;
  data_start_ns_ = gw_.tcp_.now().ns;
  if (!tenant_) return;
  const smtp::Transaction& txn = sc_.session().transaction();
  auto* j = new MsgJob(gw_.sh_.cfg->max_message_size + 1);
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
  if (!j->store.ok()) return;  // answered 451 at the end
  job_posted_ = gw_.sh_.scan->post(j);
  if (!job_posted_) ++gw_.ctr_.scan_ring_full;
}

void InSession::on_data(ByteSpan b) {
  if (!job_ || !job_posted_ || job_overflow_) return;
  if (!job_->store.append(b)) {
    job_overflow_ = true;
    return;
  }
  job_->committed.store(job_->store.size(), std::memory_order_release);
}

smtp::Decision InSession::on_end_of_data(const smtp::EndOfData& eod) {
  ++gw_.ctr_.messages;
  data_end_ns_ = gw_.tcp_.now().ns;
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
  return smtp::Decision::defer();
}

void InSession::on_reset() {
  drop_job();
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

// The final reply, after the log record is durable (I/O thread).
void InSession::finish(const smtp::Reply& r, std::string_view action, Tick now, IoReq* prepared) {
  auto* req = prepared ? prepared : new IoReq;
  req->log_line = log_record(r, action);
  req->reply_ring = gw_.io_reply_;
  req->session = this;
  req->session_gen = gen;
  final_ = r;
  if (!gw_.sh_.io->post(req)) {
    // Nothing durable, nothing promised: the sender keeps the message and retries.
    ++gw_.ctr_.io_ring_full;
    ++gw_.ctr_.tempfailed;
    delete req;
    spooled_ = false;
    final_ = smtp::reply(451, "4.3.0", "local storage busy, try again later");
    drop_job();
    sc_.resume(smtp::Decision::with(final_), now);
    pump(now);
    return;
  }
  awaiting_io_ = true;
}

void InSession::quarantine(Tick now) {
  auto* req = new IoReq;
  req->kind = IoKind::kQuarantine;
  req->id = job_->id;
  req->message = ByteSpan(job_->store.data(), job_->store.size());
  std::string& m = req->meta;
  m = "{\"id\":" + std::to_string(job_->id);
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
  req->envelope = format_spool_meta(spool_meta());
  finish(smtp::reply(250, "2.0.0", "Ok: " + std::to_string(job_->id) + " quarantined"), "quarantine", now, req);
}

void InSession::on_io_done(IoReq* r, Tick now) {
  if (dead_ || !awaiting_io_) return;
  awaiting_io_ = false;
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
  relay_body_.clear();
  relayed_ = false;
  spooled_ = false;
  sc_.resume(smtp::Decision::with(reply), now);
  pump(now);
}

void InSession::relay(Tick now) {
  std::string tagged;
  const scan::Verdict& v = job_->verdict;
  ByteSpan msg(job_->store.data(), job_->store.size());
  if (v.action == scan::PolicyAction::kTag) {
    // Headers added at the top, then the message with its first Subject prefixed.
    for (const auto& [name, value] : v.headers) tagged += name + ": " + value + "\r\n";
    std::string_view m(reinterpret_cast<const char*>(msg.data()), msg.size());
    size_t pos = 0, subj = std::string_view::npos;
    while (pos < m.size() && pos < kMaxLogHeaderScan) {
      size_t eol = m.find('\n', pos);
      if (eol == std::string_view::npos) break;
      std::string_view line = m.substr(pos, eol - pos);
      if (line.empty() || line == "\r") break;
      if (line.size() >= 8 && (line[0] == 'S' || line[0] == 's') &&
          ascii_lower(line.substr(0, 8)) == "subject:") {
        subj = pos + 8;
        break;
      }
      pos = eol + 1;
    }
    if (subj == std::string_view::npos) {
      tagged += "Subject: " + v.subject_prefix + "\r\n";
      tagged.append(m);
    } else {
      tagged.append(m.substr(0, subj));
      tagged += " " + v.subject_prefix;
      tagged.append(m.substr(subj));
    }
  }
  relay_start_ns_ = now.ns;
  const smtp::Transaction& txn = sc_.session().transaction();
  smtp::ClientMessage cm;
  cm.from = txn.from.null_path ? std::string() : txn.from.address();
  cm.params = txn.params;
  for (const smtp::Recipient& rc : txn.rcpts) cm.rcpts.push_back(smtp::ClientRecipient{rc.mailbox.address(), rc.params});
  RelayTarget to{tenant_->route_ip, tenant_->route_port, tenant_->route_tls};
  auto* r = new RelayConn(gw_, this, to, std::move(cm), job_, std::move(tagged));
  job_ = nullptr;  // the relay owns it now
  relay_ = r;
  gw_.relays_.push_back(r);
  r->start(now);  // reports failures through on_relay_done
}

void InSession::on_relay_done(const smtp::ClientResult& res, Tick now) {
  RelayConn* r = relay_;
  relay_ = nullptr;
  // The job comes back to this session for the log record.
  job_ = r ? r->take_job() : nullptr;
  relay_body_ = r ? r->take_body() : std::string();
  relay_result_ = res;
  using O = smtp::ClientResult::Outcome;
  size_t accepted = 0;
  for (size_t i = 0; i < res.rcpt_replies.size(); ++i) accepted += res.accepted(i);
  const std::string action = std::string(scan::policy_action_name(job_ ? job_->verdict.action : scan::PolicyAction::kDeliver));
  if (res.outcome == O::kDelivered && accepted > 0) {
    relayed_ = true;
    finish(smtp::reply(250, "2.0.0", "Ok: " + std::to_string(job_ ? job_->id : 0) + " delivered to " +
                                         (job_ ? job_->tenant->name : std::string()) + " (" +
                                         std::to_string(res.reply.code) + ")"),
           action, now, partial_failures(res));
  } else if (res.outcome == O::kPermFail ||
             (res.outcome == O::kDelivered && accepted == 0 &&
              std::all_of(res.rcpt_replies.begin(), res.rcpt_replies.end(), [](const smtp::Reply& x) { return x.code >= 500; }))) {
    ++gw_.ctr_.rejected;
    smtp::Reply pass = res.reply.code >= 500 ? res.reply : smtp::reply(550, "5.1.1", "every recipient was refused downstream");
    if (pass.enhanced.empty()) pass.enhanced = "5.0.0";
    pass.text = "downstream: " + pass.text;
    finish(pass, action, now);
  } else if (job_ && job_->tenant->spool) {
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
// lost silently (RFC 5321 6.1): 4xx ones are spooled for retry when the tenant allows it, the
// rest get a DSN. Both are written by the I/O thread together with the log record, before the
// 250. Null when every recipient was accepted.
IoReq* InSession::partial_failures(const smtp::ClientResult& res) {
  if (!job_) return nullptr;
  const SpoolMeta base = spool_meta();
  SpoolMeta retry = base;
  retry.rcpts.clear();
  std::vector<DsnFailure> failed;
  for (size_t i = 0; i < res.rcpt_replies.size() && i < base.rcpts.size(); ++i) {
    const smtp::Reply& rr = res.rcpt_replies[i];
    if (rr.positive()) continue;
    const std::string diag = std::to_string(rr.code) + " " + rr.enhanced + " " + rr.text;
    if (rr.transient() && tenant_->spool) {
      retry.rcpts.push_back(base.rcpts[i]);
    } else {
      failed.push_back(DsnFailure{base.rcpts[i], rr.enhanced.empty() ? (rr.transient() ? "4.0.0" : "5.0.0") : rr.enhanced,
                                  diag, tenant_->route_ip.to_string()});
    }
  }
  if (failed.empty() && retry.rcpts.empty()) return nullptr;
  auto* req = new IoReq;
  req->id = job_->id;
  req->message = relayed_bytes();
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

// The message as relayed: the tagged copy when the verdict added headers, else the store.
ByteSpan InSession::relayed_bytes() const {
  return relay_body_.empty() ? ByteSpan(job_->store.data(), job_->store.size())
                             : ByteSpan(reinterpret_cast<const uint8_t*>(relay_body_.data()), relay_body_.size());
}

// The transaction's envelope in the spool format (dataplane/spool.h).
SpoolMeta InSession::spool_meta() {
  const smtp::Transaction& txn = sc_.session().transaction();
  const GatewaySpool& sp = gw_.sh_.spool;
  SpoolMeta m;
  m.id = job_->id;
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
  auto* req = new IoReq;
  req->kind = IoKind::kSpool;
  req->id = m.id;
  req->message = relayed_bytes();
  req->meta = format_spool_meta(m);
  spooled_ = true;
  finish(smtp::reply(250, "2.0.0", "Ok: " + std::to_string(job_->id) +
                                       " spooled: the customer's server is unavailable, delivery will be retried"),
         "spool", now, req);
}

void InSession::log_refusal(std::string_view stage, std::string_view arg, const smtp::Reply& r) {
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
  auto* req = new IoReq;
  req->log_line = std::move(o);
  if (!gw_.sh_.io->post(req)) {
    ++gw_.ctr_.io_ring_full;
    delete req;
  }
}

std::string InSession::log_record(const smtp::Reply& r, std::string_view action) {
  const uint64_t now_ns = gw_.tcp_.now().ns;
  std::string o = "{\"time\":";
  json_string(o, log_time());
  kv(o, "event", "message");
  kn(o, "id", job_ ? job_->id : 0);
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
  kv(o, "mail_from", txn.from.null_path ? "" : txn.from.address());
  o += ",\"rcpts\":[";
  for (size_t i = 0; i < txn.rcpts.size(); ++i) {
    if (i) o += ',';
    json_string(o, txn.rcpts[i].mailbox.address());
  }
  o += "]";
  if (job_) {
    ByteSpan msg(job_->store.data(), job_->store.size());
    kv(o, "message_id", header_value(msg, "message-id", kMaxLogSubject));
    kv(o, "subject", header_value(msg, "subject", kMaxLogSubject));
    kn(o, "size", job_->store.size());
    const scan::Verdict& v = job_->verdict;
    kv(o, "class", job_->scanned ? scan::verdict_class_name(v.cls) : "unscanned");
    if (!job_->scanned && !job_->scan_error.empty()) kv(o, "scan_error", job_->scan_error);
    kv(o, "score", scan::format_score(v.score));
    o += ",\"rules\":[";
    for (size_t i = 0; i < v.rules.size(); ++i) {
      if (i) o += ',';
      json_string(o, v.rules[i]);
    }
    o += "],\"av\":[";
    for (size_t i = 0; i < job_->av_names.size(); ++i) {
      if (i) o += ',';
      json_string(o, job_->av_names[i]);
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
  kn(o, "scan_cpu_us", job_ ? job_->scan_ns / 1000 : 0);
  kn(o, "relay_ms", relay_start_ns_ ? ms(relay_start_ns_, now_ns) : 0);
  kn(o, "session_ms", ms(connect_ns_, now_ns));
  o += "}\n";
  return o;
}

}  // namespace mx::dp
