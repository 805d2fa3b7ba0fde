#include "server/router.h"

namespace cutout::server {

void Router::add(const std::string& method, const std::string& pattern, RouteHandler handler,
                 std::string label) {
  if (const size_t brace = pattern.rfind('{'); brace != std::string::npos && pattern.back() == '}') {
    prefixes_[pattern.substr(0, brace)] = pattern;
  }
  routes_[{method, pattern}] = {std::move(handler), label.empty() ? pattern : std::move(label)};
}

std::string Router::pattern_of(const std::string& path) const {
  for (const auto& [prefix, pattern] : prefixes_) {
    if (path.rfind(prefix, 0) == 0) return pattern;
  }
  return path;
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
  const std::string pattern = pattern_of(path);
  Match m;
  for (const auto& [key, route] : routes_) {  // ordered by method: `methods` comes out sorted
    if (key.second != pattern) continue;
    m.methods.push_back(key.first);
    if (m.path_known) continue;
    m.path_known = true;
    m.endpoint = route.label;
  }
  if (auto it = routes_.find({method, pattern}); it != routes_.end()) {
    m.handler = &it->second.handler;
    m.endpoint = it->second.label;
  }
  if (!m.path_known) m.endpoint = "other";
  return m;
}

}  // namespace cutout::server
