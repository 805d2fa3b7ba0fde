#include "core/timer.h"

#include <cstdio>
#include <cstring>

namespace cutout {
namespace {

// Reads a "Name:   123 kB" line of /proc/self/status.
uint64_t proc_status_kb(const char* name) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  uint64_t kb = 0;
  size_t len = std::strlen(name);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, name, len) == 0 && line[len] == ':') {
      std::sscanf(line + len + 1, "%lu", &kb);
      break;
    }
  }
  std::fclose(f);
  return kb;
}

}  // namespace

uint64_t peak_rss_bytes() {
  return proc_status_kb("VmHWM") * 1024;
}
uint64_t current_rss_bytes() {
  return proc_status_kb("VmRSS") * 1024;
}

}  // namespace cutout
