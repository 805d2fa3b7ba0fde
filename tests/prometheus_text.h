// TEST-ONLY: a strict parser of the Prometheus text exposition format 0.0.4, so that tests check what
// /metrics serves the way Prometheus would read it (and a little more strictly).
//
// Stateless functions; safe to call from any thread.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace cutout::server {

// Every sample of `text`, keyed by its series in canonical form: the sample's metric name, then its
// labels sorted by name with values escaped as in the format, e.g.
//   cutout_requests_total{code="200",endpoint="/healthz"}
// and the bare name when there are no labels. Timestamps are accepted and dropped.
//
// Throws std::runtime_error (with the line number) on anything malformed: a HELP or TYPE line without
// a valid name, a bad escape, an unknown type, a second HELP or TYPE for a name; a bad metric or label
// name, bad label syntax or escapes, a label repeated; a value or timestamp that is not a number;
// junk after the timestamp; a sample whose family has no TYPE line before it, or that is not in the
// family of the latest TYPE line (families must be contiguous); a histogram bucket without a valid
// "le" or a summary quantile without "quantile"; the same series twice; text not ending in a newline.
std::map<std::string, double> parse_prometheus_text(const std::string& text);

// The canonical key of a series, as parse_prometheus_text builds it (labels in any order).
std::string prometheus_series_key(const std::string& name,
                                  std::vector<std::pair<std::string, std::string>> labels = {});

// The value of one series, or `fallback` when it is absent.
double prometheus_sample_or(const std::map<std::string, double>& samples, const std::string& key,
                            double fallback = 0);

}  // namespace cutout::server
