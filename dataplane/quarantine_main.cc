// dataplane/quarantine_main.cc — mxgate-quarantine: list, show, release and delete quarantined
// messages of a running (or stopped) mxgate. The quarantine is the directory [gateway]
// quarantine_dir: <id>.eml (the original message), <id>.json (envelope and verdict) and
// <id>.meta (the envelope in the spool format). Release hands the message to the spool
// (durably: files fsynced, meta renamed last, directory fsynced) with the tenant's current route
// from the snapshot; mxgate's spool runner picks it up within seconds and delivers it.
//
// SECURITY: operator tool, run as the user that owns the directories. Ids are digits only, so
// no path can be named through them. Quarantined content is never interpreted, and never reaches
// the operator's terminal as it is: `list` and `show` print it through terminal_text
// (ipc/txlog.h: controls and escape sequences as \xNN), unless `show --raw` is asked for
// (the message's bytes exactly, to redirect to a file or a pipe).
//
// Usage: mxgate-quarantine --config FILE list [--tenant NAME] | show [--raw] ID | release ID | delete ID
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/config.h"
#include "dataplane/durable.h"
#include "dataplane/ipc_use.h"
#include "dataplane/spool.h"

namespace {

int usage(FILE* out = stderr) {
  std::fputs(
      "usage: mxgate-quarantine --config FILE list [--tenant NAME]\n"
      "       mxgate-quarantine --config FILE show [--raw] ID\n"
      "       mxgate-quarantine --config FILE release ID\n"
      "       mxgate-quarantine --config FILE delete ID\n"
      "\n"
      "  list           quarantined messages: id, tenant, class, score, sender, recipients\n"
      "  show ID        the verdict record, then the message; control characters and escape\n"
      "                 sequences are shown as \\xNN (CR LF as a line end), never sent to the terminal\n"
      "  show --raw ID  the message's bytes exactly as stored, nothing else (redirect to a file)\n"
      "  release ID     hand the message to the spool, for delivery on the tenant's current route\n"
      "  delete ID      remove the message\n",
      out);
  return out == stderr ? 2 : 0;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// What `list` prints of a field: terminal-safe, on one line.
std::string cell(const std::string& v) {
  std::string o = mx::dp::terminal_text(v);
  for (char& c : o)
    if (c == '\n' || c == '\t') c = ' ';
  return o;
}

// The value of a string or number field of our own flat JSON ({"key":"value",...}).
std::string json_field(const std::string& j, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  size_t p = j.find(k);
  if (p == std::string::npos) return {};
  p += k.size();
  if (p < j.size() && j[p] == '"') {
    std::string v;
    for (size_t i = p + 1; i < j.size() && j[i] != '"'; ++i) {
      if (j[i] == '\\' && i + 1 < j.size()) ++i;
      v += j[i];
    }
    return v;
  }
  size_t e = j.find_first_of(",}", p);
  return j.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

bool valid_id(const std::string& id) {
  return !id.empty() && id.size() <= 20 && std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::vector<std::string> ids(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0 && valid_id(n.substr(0, n.size() - 5)))
      out.push_back(n.substr(0, n.size() - 5));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

int list(const mx::cfg::GatewaySection& g, const std::string& tenant) {
  const auto all = ids(g.quarantine_dir);
  size_t shown = 0;
  std::printf("%-20s %-10s %-12s %-7s %s -> %s\n", "ID", "TENANT", "CLASS", "SCORE", "FROM", "RECIPIENTS");
  for (const std::string& id : all) {
    std::string j;
    if (!read_file(g.quarantine_dir + "/" + id + ".json", j)) continue;
    if (!tenant.empty() && json_field(j, "tenant") != tenant) continue;
    std::string rcpts;
    const size_t a = j.find("\"rcpts\":[");
    if (a != std::string::npos) rcpts = j.substr(a + 9, j.find(']', a) - a - 9);
    std::printf("%-20s %-10s %-12s %-7s <%s> -> %s\n", id.c_str(), cell(json_field(j, "tenant")).c_str(),
                cell(json_field(j, "class")).c_str(), cell(json_field(j, "score")).c_str(),
                cell(json_field(j, "mail_from")).c_str(), cell(rcpts).c_str());
    ++shown;
  }
  std::printf("%zu message(s)\n", shown);
  return 0;
}

// The verdict record and the message, terminal-safe; with `raw`, the message's bytes only.
int show(const mx::cfg::GatewaySection& g, const std::string& id, bool raw) {
  std::string j, m;
  if (!read_file(g.quarantine_dir + "/" + id + ".json", j) || !read_file(g.quarantine_dir + "/" + id + ".eml", m)) {
    std::fprintf(stderr, "mxgate-quarantine: no quarantined message %s in %s\n", id.c_str(), g.quarantine_dir.c_str());
    return 1;
  }
  if (raw) return std::fwrite(m.data(), 1, m.size(), stdout) == m.size() && std::fflush(stdout) == 0 ? 0 : 1;
  const std::string out = mx::dp::terminal_text(j) + "\n" + mx::dp::terminal_text(m);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int remove_files(const mx::cfg::GatewaySection& g, const std::string& id) {
  // The .json last: `list` shows an entry as long as it exists.
  for (const char* ext : {".meta", ".eml", ".json"}) ::unlink((g.quarantine_dir + "/" + id + ext).c_str());
  fsync_dir(g.quarantine_dir);
  return 0;
}

int release(const mx::cfg::GatewaySection& g, const std::string& id) {
  std::string eml, meta_text;
  if (!read_file(g.quarantine_dir + "/" + id + ".eml", eml) ||
      !read_file(g.quarantine_dir + "/" + id + ".meta", meta_text)) {
    std::fprintf(stderr, "mxgate-quarantine: no quarantined message %s in %s\n", id.c_str(), g.quarantine_dir.c_str());
    return 1;
  }
  auto meta = mx::dp::parse_spool_meta(meta_text);
  if (!meta) {
    std::fprintf(stderr, "mxgate-quarantine: %s.meta: %s\n", id.c_str(), meta.error().message.c_str());
    return 1;
  }
  // The tenant's current route, as the snapshot has it now.
  auto snap = mx::dp::load_snapshot(g.tenants, 0);
  if (snap)
    for (const mx::dp::Tenant& t : (*snap)->tenants())
      if (t.name == meta->tenant) {
        meta->route_ip = t.route_ip;
        meta->route_port = t.route_port;
        meta->tls = t.route_tls;
      }
  const auto now = static_cast<uint64_t>(std::time(nullptr));
  meta->created = now;
  meta->expires = now + g.spool_lifetime_s;
  meta->attempts = 0;
  meta->next = now;
  meta->last = "released from quarantine";
  ::mkdir(g.spool_dir.c_str(), 0700);
  std::string err = "cannot open the spool directory";
  int dir = ::open(g.spool_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  auto bytes = [](const std::string& t) { return mx::ByteSpan(reinterpret_cast<const uint8_t*>(t.data()), t.size()); };
  // The message first, the meta last: the runner only sees complete entries.
  const bool ok = dir >= 0 && mx::dp::durable_file(dir, id + ".eml", bytes(eml), &err) &&
                  mx::dp::durable_file(dir, id + ".meta", bytes(mx::dp::format_spool_meta(*meta)), &err) &&
                  ::fsync(dir) == 0;
  if (dir >= 0) ::close(dir);
  if (!ok) {
    std::fprintf(stderr, "mxgate-quarantine: release %s: %s\n", id.c_str(), err.c_str());
    return 1;
  }
  remove_files(g, id);
  std::printf("released %s to the spool (%s -> %s:%u); mxgate delivers it within seconds\n", id.c_str(),
              meta->tenant.c_str(), meta->route_ip.to_string().c_str(), meta->route_port);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 1 && (a[0] == "--help" || a[0] == "-h")) return usage(stdout);
  if (a.size() < 3 || a[0] != "--config") return usage();
  auto cfg = mx::cfg::load_config(a[1]);
  if (!cfg) {
    std::fprintf(stderr, "mxgate-quarantine: %s\n", cfg.error().message.c_str());
    return 1;
  }
  if (!cfg->gateway.enabled) {
    std::fprintf(stderr, "mxgate-quarantine: %s has no [gateway] section\n", a[1].c_str());
    return 1;
  }
  const mx::cfg::GatewaySection& g = cfg->gateway;
  const std::string& cmd = a[2];
  if (cmd == "list") {
    if (a.size() == 3) return list(g, "");
    if (a.size() == 5 && a[3] == "--tenant") return list(g, a[4]);
    return usage();
  }
  const bool raw = cmd == "show" && a.size() == 5 && a[3] == "--raw";
  if (a.size() != (raw ? 5u : 4u)) return usage();
  const std::string& id = a.back();
  if (!valid_id(id)) {
    std::fprintf(stderr, "mxgate-quarantine: '%s' is not a message id (digits)\n", id.c_str());
    return 2;
  }
  if (cmd == "show") return show(g, id, raw);
  if (cmd == "release") return release(g, id);
  if (cmd == "delete") {
    struct stat st {};
    if (::stat((g.quarantine_dir + "/" + id + ".json").c_str(), &st) != 0) {
      std::fprintf(stderr, "mxgate-quarantine: no quarantined message %s\n", id.c_str());
      return 1;
    }
    remove_files(g, id);
    std::printf("deleted %s\n", id.c_str());
    return 0;
  }
  return usage();
}
