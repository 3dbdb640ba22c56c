// dataplane/msg_job.cc
#include "dataplane/msg_job.h"

#include <sys/mman.h>

#include <cstring>

namespace mx::dp {

MessageStore::MessageStore(uint64_t capacity) : cap_(capacity) {
  const uint64_t page = 4096;
  map_len_ = (capacity + page - 1) / page * page;
  void* p = ::mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) base_ = static_cast<uint8_t*>(p);
}

MessageStore::~MessageStore() {
  if (base_) ::munmap(base_, map_len_);
}

bool MessageStore::append(ByteSpan b) {
  if (!base_ || b.size() > cap_ - size_) return false;
  std::memcpy(base_ + size_, b.data(), b.size());
  size_ += b.size();
  return true;
}

}  // namespace mx::dp
