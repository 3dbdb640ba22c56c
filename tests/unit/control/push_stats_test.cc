// tests/unit/control/push_stats_test.cc — nodes' counters through mxgate-control: real node
// connections to the PushServer's socket send hello and stats frames, and GET /metrics
// (ApiServer::route) relays each connected node's samples with node="NAME" under one # TYPE line
// per family; a stats text outside the subset is refused and counted (the connection stays, the
// node's counters leave /metrics); a node that disconnects leaves /metrics; stats before hello
// close the connection.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "control/api/api_server.h"
#include "control/push/push_server.h"
#include "ipc/frame.h"
#include "test_store.h"

namespace mx::control {
namespace {

constexpr int kPumpRounds = 200;  // poll rounds of 10 ms before a condition counts as failed

class PushStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mxpushstats.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = Store::open(test_store(dir_ + "/control.db"));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    auto p = PushServer::listen(dir_ + "/node.sock", *store_);
    ASSERT_TRUE(p) << p.error().message;
    push_ = std::move(*p);
    auto a = ApiServer::listen(dir_ + "/api.sock", *store_, *push_);
    ASSERT_TRUE(a) << a.error().message;
    api_ = std::move(*a);
  }
  void TearDown() override {
    for (int fd : nodes_) ::close(fd);
    api_.reset();
    push_.reset();
    store_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  // A node's connection (a plain blocking socket, as a test peer).
  int connect_node() {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = dir_ + "/node.sock";
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    nodes_.push_back(fd);
    return fd;
  }
  static void send_frame(int fd, ipc::FrameType t, std::string_view payload) {
    const std::string f = ipc::encode_frame(t, 0, payload);
    ASSERT_EQ(::send(fd, f.data(), f.size(), MSG_NOSIGNAL), static_cast<ssize_t>(f.size()));
  }
  // Runs control's node side until `done` (or kPumpRounds rounds).
  bool pump_until(const std::function<bool()>& done) {
    for (int i = 0; i < kPumpRounds; ++i) {
      if (done()) return true;
      std::vector<pollfd> fds;
      push_->fill(fds);
      ::poll(fds.data(), fds.size(), 10);
      push_->handle(fds);
      push_->sweep();
    }
    return done();
  }
  std::string metrics() {
    HttpRequest r;
    r.method = "GET";
    r.target = r.path = "/metrics";
    const HttpResponse resp = api_->route(r);
    EXPECT_EQ(resp.status, 200);
    return resp.body;
  }
  static bool has_line(const std::string& body, const std::string& line) {
    return ("\n" + body).find("\n" + line + "\n") != std::string::npos;
  }
  static size_t count_of(const std::string& hay, const std::string& needle) {
    size_t n = 0;
    for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PushServer> push_;
  std::unique_ptr<ApiServer> api_;
  std::vector<int> nodes_;
};

const std::string kStatsA =
    "# TYPE mxgate_messages_total counter\n"
    "mxgate_messages_total{class=\"spam\",action=\"quarantine\"} 12\n"
    "mxgate_messages_total{class=\"clean\",action=\"deliver\"} 30\n"
    "# TYPE mxgate_spool_messages gauge\n"
    "mxgate_spool_messages 2\n";
const std::string kStatsB =
    "# TYPE mxgate_messages_total counter\n"
    "mxgate_messages_total{class=\"spam\",action=\"quarantine\"} 1\n";

TEST_F(PushStatsTest, EachConnectedNodesCountersAreRelayedWithItsName) {
  const int a = connect_node(), b = connect_node();
  send_frame(a, ipc::FrameType::kHello, "lab-1");
  send_frame(b, ipc::FrameType::kHello, "lab-2");
  send_frame(a, ipc::FrameType::kStats, kStatsA);
  send_frame(b, ipc::FrameType::kStats, kStatsB);
  ASSERT_TRUE(pump_until([&] { return push_->node_stats().size() == 2; }));
  const std::string m = metrics();
  EXPECT_TRUE(has_line(m, "mxgate_messages_total{node=\"lab-1\",class=\"spam\",action=\"quarantine\"} 12")) << m;
  EXPECT_TRUE(has_line(m, "mxgate_messages_total{node=\"lab-1\",class=\"clean\",action=\"deliver\"} 30")) << m;
  EXPECT_TRUE(has_line(m, "mxgate_messages_total{node=\"lab-2\",class=\"spam\",action=\"quarantine\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "mxgate_spool_messages{node=\"lab-1\"} 2")) << m;
  EXPECT_EQ(count_of(m, "# TYPE mxgate_messages_total counter\n"), 1u) << m;
  EXPECT_EQ(count_of(m, "# TYPE mxgate_spool_messages gauge\n"), 1u) << m;
  EXPECT_TRUE(has_line(m, "mxgate_control_stats_refused_total 0")) << m;
  EXPECT_TRUE(has_line(m, "mxgate_control_stats_left_out 0")) << m;
  // Control's own families stay as they were.
  EXPECT_TRUE(has_line(m, "mxgate_control_nodes_connected 2")) << m;

  // A newer frame replaces the older.
  send_frame(b, ipc::FrameType::kStats, "# TYPE mxgate_messages_total counter\n"
                                        "mxgate_messages_total{class=\"spam\",action=\"quarantine\"} 5\n");
  ASSERT_TRUE(pump_until([&] { return has_line(metrics(), "mxgate_messages_total{node=\"lab-2\",class=\"spam\",action=\"quarantine\"} 5"); }));

  // A node gone: its counters leave /metrics.
  ::close(b);
  nodes_.pop_back();
  ASSERT_TRUE(pump_until([&] { return push_->node_stats().size() == 1; }));
  const std::string after = metrics();
  EXPECT_EQ(after.find("node=\"lab-2\",class="), std::string::npos) << after;
  EXPECT_TRUE(has_line(after, "mxgate_messages_total{node=\"lab-1\",class=\"spam\",action=\"quarantine\"} 12"));
}

TEST_F(PushStatsTest, TextOutsideTheSubsetIsRefusedCountedAndDropsTheNodesCounters) {
  const int a = connect_node();
  send_frame(a, ipc::FrameType::kHello, "lab-1");
  send_frame(a, ipc::FrameType::kStats, kStatsA);
  ASSERT_TRUE(pump_until([&] { return push_->node_stats().size() == 1; }));
  // A sample claiming control's node label, then a line without its LF.
  send_frame(a, ipc::FrameType::kStats, "# TYPE mxgate_x gauge\nmxgate_x{node=\"other\"} 1\n");
  ASSERT_TRUE(pump_until([&] { return push_->stats_refused() == 1; }));
  EXPECT_TRUE(push_->node_stats().empty());
  std::string m = metrics();
  EXPECT_EQ(m.find("mxgate_messages_total"), std::string::npos) << m;
  EXPECT_EQ(m.find("mxgate_x"), std::string::npos) << m;
  EXPECT_TRUE(has_line(m, "mxgate_control_stats_refused_total 1")) << m;
  EXPECT_EQ(push_->connected(), 1u) << "the connection stays: snapshots and logs matter more";
  send_frame(a, ipc::FrameType::kStats, "# TYPE mxgate_x gauge\nmxgate_x 1");
  ASSERT_TRUE(pump_until([&] { return push_->stats_refused() == 2; }));
  // The node's next good frame is taken again.
  send_frame(a, ipc::FrameType::kStats, kStatsB);
  ASSERT_TRUE(pump_until([&] { return push_->node_stats().size() == 1; }));
  m = metrics();
  EXPECT_TRUE(has_line(m, "mxgate_messages_total{node=\"lab-1\",class=\"spam\",action=\"quarantine\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "mxgate_control_stats_refused_total 2")) << m;
}

TEST_F(PushStatsTest, StatsBeforeHelloCloseTheConnection) {
  const int a = connect_node();
  send_frame(a, ipc::FrameType::kStats, kStatsA);
  // Control closes it: the peer reads end of file.
  pollfd p{a, POLLIN, 0};
  ASSERT_TRUE(pump_until([&] { return ::poll(&p, 1, 0) == 1; }));
  char c;
  EXPECT_EQ(::recv(a, &c, 1, MSG_DONTWAIT), 0);
  EXPECT_TRUE(push_->node_stats().empty());
  EXPECT_EQ(metrics().find("mxgate_messages_total"), std::string::npos);
}

}  // namespace
}  // namespace mx::control
