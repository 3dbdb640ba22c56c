// dataplane/gateway_relay.cc — the relay client: one connection from our address to the
// tenant's server on tcpstack, driven by smtp::ClientSession (smtp/client.h).
#include "dataplane/gateway_session.h"

namespace mx::dp {

RelayConn::RelayConn(Gateway& gw, RelayOwner* owner, const RelayTarget& to, smtp::ClientMessage msg,
                     std::unique_ptr<OutMessage> out)
    : gw_(gw), in_(owner), to_(to), out_(std::move(out)), msg_(std::move(msg)) {
  msg_.params.size.reset();
  msg_.body = out_->parts;
  smtp::ClientConfig cc;
  cc.helo_name = gw.sh_.cfg->hostname;
  cc.tls = to.tls;
  cc.server_name = to.tls_name.empty() ? to.ip.to_string() : to.tls_name;
  cc.verify_only = to.verify_only;
  cs_ = std::make_unique<smtp::ClientSession>(cc, gw.sh_.tls_client, msg_);
}

RelayConn::~RelayConn() = default;

bool RelayConn::start(Tick now) {
  start_ns_ = now.ns;
  net::TcpError err = net::TcpError::kNone;
  conn_ = gw_.tcp_.connect(to_.ip, to_.port, this, nullptr, &err);
  if (!conn_) {
    cs_->on_closed(now);  // a temporary failure at the "connect" stage
    check_done(now);
    destroy();
    return false;
  }
  return true;
}

void RelayConn::on_connected(net::TcpConn&) {
  connected_ = true;
  cs_->start(gw_.tcp_.now());
  flush();
}

void RelayConn::on_data(net::TcpConn& c) {
  const Tick now = gw_.tcp_.now();
  while (conn_ && gw_.tcp_.readable(c)) {
    ByteSpan b = gw_.tcp_.peek(c);
    if (b.empty()) break;
    const size_t used = cs_->feed(b, now);
    gw_.tcp_.consume(c, static_cast<uint32_t>(b.size()));  // the client takes every byte it is given
    (void)used;
  }
  flush();
  check_done(now);
}

void RelayConn::on_writable(net::TcpConn&) { flush(); }

void RelayConn::on_peer_closed(net::TcpConn&) {
  const Tick now = gw_.tcp_.now();
  cs_->on_closed(now);
  check_done(now);
  if (conn_) {
    conn_->handler = nullptr;
    gw_.tcp_.close(*conn_);
    conn_ = nullptr;
  }
  destroy();
}

void RelayConn::on_closed(net::TcpConn&, net::TcpError) {
  conn_ = nullptr;
  const Tick now = gw_.tcp_.now();
  cs_->on_closed(now);
  check_done(now);
  destroy();
}

void RelayConn::tick(Tick now) {
  if (dead_) return;
  if (to_.verify_only && now.ns - start_ns_ >= kRcptVerifyTimeoutNs) {
    cs_->on_closed(now);  // inconclusive: reported as a temporary failure
    check_done(now);
    destroy();
    return;
  }
  if (!connected_) {
    if (now.ns - start_ns_ < kRelayConnectTimeoutNs) return;
    cs_->on_closed(now);  // no connection: a temporary failure
    check_done(now);
    destroy();
    return;
  }
  cs_->tick(now);
  flush();
  check_done(now);
}

void RelayConn::flush() {
  if (!conn_) return;
  std::string_view out = cs_->output();
  if (!out.empty()) {
    const uint32_t n = gw_.tcp_.send(*conn_, ByteSpan(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
    cs_->consume_output(n);
  }
  if (cs_->wants_close() && cs_->output().empty()) {
    conn_->handler = nullptr;
    gw_.tcp_.close(*conn_);
    conn_ = nullptr;
    check_done(gw_.tcp_.now());
    destroy();
  }
}

void RelayConn::check_done(Tick now) {
  if (reported_ || cs_->result().outcome == smtp::ClientResult::Outcome::kPending) return;
  reported_ = true;
  if (in_) {
    RelayOwner* s = in_;
    in_ = nullptr;
    s->on_relay_done(cs_->result(), now);
  }
}

void RelayConn::destroy() {
  if (dead_) return;
  dead_ = true;
  if (conn_) {
    conn_->handler = nullptr;
    gw_.tcp_.close(*conn_);
    conn_ = nullptr;
  }
  gw_.forget(this);
}

}  // namespace mx::dp

namespace mx::dp {

void SpoolRelay::start(Tick now) {
  smtp::ClientMessage msg;
  msg.from = d_->meta.from;
  msg.params = d_->meta.params;
  for (const SpoolRcpt& r : d_->meta.rcpts) msg.rcpts.push_back(smtp::ClientRecipient{r.address, r.params});
  RelayTarget to{d_->meta.route_ip, d_->meta.route_port, d_->meta.tls, d_->tls_name};
  auto out = std::make_unique<OutMessage>();
  out->added = std::move(d_->body);
  out->parts = ByteParts(ByteSpan(reinterpret_cast<const uint8_t*>(out->added.data()), out->added.size()));
  auto* r = new RelayConn(gw_, this, to, std::move(msg), std::move(out));
  r->adopt_owner(std::unique_ptr<RelayOwner>(this));
  gw_.relays_.push_back(r);
  r->start(now);  // may report (and be forgotten) at once; `this` lives until the relay is deleted
}

void SpoolRelay::on_relay_done(const smtp::ClientResult& res, Tick) {
  auto* req = new IoReq;
  req->kind = IoKind::kSpoolResult;
  req->id = d_->meta.id;
  req->result = res;
  req->remote = d_->meta.route_ip.to_string();
  gw_.post_io(req);  // a full ring: it waits in the lcore's backlog
}

}  // namespace mx::dp
