// dataplane/durable.cc
#include "dataplane/durable.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mx::dp {

bool write_all(int fd, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  while (n) {
    ssize_t w = ::write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    b += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool durable_file(int dir, const std::string& name, ByteSpan a, std::string* err) {
  return durable_file(dir, name, ByteParts(a), err);
}

bool durable_file(int dir, const std::string& name, const ByteParts& a, std::string* err) {
  const std::string tmp = "." + name + ".tmp";
  int fd = ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *err = name + ": " + std::strerror(errno);
    return false;
  }
  bool ok = true;
  for (const ByteSpan& p : a.parts()) ok = ok && write_all(fd, p.data(), p.size());
  ok = ok && ::fsync(fd) == 0;
  if (!ok) *err = name + ": " + std::strerror(errno);
  ::close(fd);
  if (ok && ::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
    *err = name + ": rename: " + std::strerror(errno);
    ok = false;
  }
  if (!ok) ::unlinkat(dir, tmp.c_str(), 0);
  return ok;
}

bool read_file_at(int dir, const std::string& name, std::string& out, size_t max) {
  int fd = ::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) <= max;
  if (ok) {
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (ok && got < out.size()) {
      ssize_t r = ::read(fd, out.data() + got, out.size() - got);
      if (r < 0 && errno == EINTR) continue;
      ok = r > 0;
      if (ok) got += static_cast<size_t>(r);
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace mx::dp
