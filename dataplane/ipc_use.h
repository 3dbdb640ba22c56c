// dataplane/ipc_use.h — the names of the contract with mxgate-control (ipc/: the tenant snapshot,
// the transaction-log record) that the data plane uses unqualified.
#pragma once

#include "ipc/snapshot.h"
#include "ipc/txlog.h"

namespace mx::dp {

using ipc::load_snapshot;
using ipc::parse_snapshot;
using ipc::PolicyKey;
using ipc::Snapshot;
using ipc::Tenant;
using ipc::User;

using ipc::header_value;
using ipc::json_string;
using ipc::kMaxLogHeaderScan;
using ipc::kMaxLogSubject;
using ipc::log_time;
using ipc::terminal_text;

}  // namespace mx::dp
