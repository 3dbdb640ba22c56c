// dataplane/eal_args.cc
#include "dataplane/eal_args.h"

namespace mx::dp {

std::vector<std::string> build_eal_args(const cfg::Config& c, const std::string& argv0) {
  std::vector<std::string> a{argv0};
  std::string lcores;
  for (uint32_t l : c.eal.lcores) lcores += (lcores.empty() ? "" : ",") + std::to_string(l);
  a.insert(a.end(), {"-l", lcores, "--main-lcore", std::to_string(c.eal.main_lcore)});
  a.push_back("--log-level=lib.*:" + c.eal.log_level);
  a.push_back("--log-level=pmd.*:" + c.eal.log_level);
  a.push_back("--no-telemetry");
  // EAL refuses --in-memory together with --no-huge (which implies legacy memory); without
  // hugepages, --no-shconf gives the same "no shared runtime files" behaviour.
  if (!c.eal.hugepages) a.insert(a.end(), {"--no-huge", "--no-shconf", "--file-prefix", c.eal.file_prefix});
  else if (c.eal.in_memory) a.push_back("--in-memory");
  else a.insert(a.end(), {"--file-prefix", c.eal.file_prefix});
  a.insert(a.end(), {"-m", std::to_string(c.eal.memory_mb)});
  bool any_pci = false;
  for (const cfg::PortConfig& p : c.ports) {
    if (!p.vdev.empty()) {
      a.insert(a.end(), {"--vdev", p.vdev});
    } else {
      a.insert(a.end(), {"-a", p.pci});
      any_pci = true;
    }
  }
  if (!any_pci) a.push_back("--no-pci");
  a.insert(a.end(), c.eal.extra_args.begin(), c.eal.extra_args.end());
  return a;
}

}  // namespace mx::dp
