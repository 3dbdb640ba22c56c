// dataplane/durable.h — durable file writes: the bytes are on disk before anyone is told so.
// A file is written under a temporary name in its directory, fsynced and renamed into place;
// the caller fsyncs the directory (once for a batch) to make the rename durable. Used by the
// I/O thread (quarantine, spool) and by mxgate-quarantine (release).
#pragma once

#include <string>

#include "common/bytes.h"

namespace mx::dp {

bool write_all(int fd, const void* p, size_t n);
// Writes `name` in directory fd `dir`: ".name.tmp", fsync, rename. On failure the temporary is
// removed and *err names the file and the reason.
bool durable_file(int dir, const std::string& name, ByteSpan data, std::string* err);
bool durable_file(int dir, const std::string& name, const ByteParts& data, std::string* err);
// Reads a whole file of at most `max` bytes relative to directory fd `dir`.
bool read_file_at(int dir, const std::string& name, std::string& out, size_t max);

}  // namespace mx::dp
