#include "prometheus_text.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string_view>

namespace cutout::server {
namespace {

using LabelList = std::vector<std::pair<std::string, std::string>>;

bool is_name_char(char c, bool first, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

std::string escape_label_value(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// Go's strconv.ParseFloat as Prometheus uses it, minus hex floats and underscores: a decimal number
// with optional sign, fraction and exponent, or Inf/Infinity (optionally signed) or NaN, any case.
bool parse_float(std::string_view s, double& out) {
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view body = lower;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "inf" || body == "infinity") {
    out = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == "nan") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // Check the shape ourselves: from_chars would also take "nan(...)" and stop early without error.
  size_t i = 0, int_digits = 0, frac_digits = 0;
  while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < body.size() && body[i] == 'e') {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != body.size()) return false;
  double v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc() || end != body.data() + body.size()) return false;  // out of range too
  out = negative ? -v : v;
  return true;
}

bool parse_timestamp(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+') return false;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

// Parses one line; holds the state that spans lines (families seen, series seen).
class Parser {
 public:
  explicit Parser(std::map<std::string, double>& samples) : samples_(samples) {}

  void parse_line(std::string_view line, size_t line_number) {
    line_ = line;
    line_number_ = line_number;
    pos_ = 0;
    skip_blanks();
    if (at_end()) return;
    if (line_[pos_] == '#') return parse_comment();
    parse_sample();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("prometheus text, line " + std::to_string(line_number_) + ": " + what + " in '" +
                             std::string(line_) + "'");
  }

  bool at_end() const { return pos_ >= line_.size(); }
  bool at_blank() const { return !at_end() && (line_[pos_] == ' ' || line_[pos_] == '\t'); }
  void skip_blanks() {
    while (at_blank()) ++pos_;
  }
  std::string_view token() {  // up to the next blank or the end of the line
    size_t start = pos_;
    while (!at_end() && !at_blank()) ++pos_;
    return line_.substr(start, pos_ - start);
  }

  std::string name(bool colon_ok, const char* what) {
    size_t start = pos_;
    while (!at_end() && is_name_char(line_[pos_], pos_ == start, colon_ok)) ++pos_;
    if (pos_ == start) fail(std::string("expected a ") + what);
    return std::string(line_.substr(start, pos_ - start));
  }

  void parse_comment() {
    ++pos_;  // '#'
    skip_blanks();
    std::string_view keyword = token();
    if (keyword != "HELP" && keyword != "TYPE") return;  // any other comment is ignored
    skip_blanks();
    std::string metric = name(true, "metric name after HELP/TYPE");
    if (!at_end() && !at_blank()) fail("invalid character in metric name");
    skip_blanks();
    if (keyword == "HELP") {
      if (!helped_.insert(metric).second) fail("second HELP for '" + metric + "'");
      switch_family(metric);
      for (size_t i = pos_; i < line_.size(); ++i) {
        if (line_[i] != '\\') continue;
        if (i + 1 >= line_.size() || (line_[i + 1] != '\\' && line_[i + 1] != 'n'))
          fail("invalid escape in HELP");
        ++i;
      }
      return;
    }
    std::string type(token());
    static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
    if (!kTypes.count(type)) fail(type.empty() ? "TYPE without a type" : "unknown type '" + type + "'");
    skip_blanks();
    if (!at_end()) fail("junk after TYPE");
    if (types_.count(metric)) fail("second TYPE for '" + metric + "'");
    switch_family(metric);
    types_[metric] = type;
  }

  // HELP and TYPE lines start (or continue) a family; a family left for another is closed for good.
  void switch_family(const std::string& metric) {
    if (metric == family_) return;
    if (closed_.count(metric)) fail("family '" + metric + "' is not contiguous");
    if (!family_.empty()) closed_.insert(family_);
    family_ = metric;
  }

  void parse_sample() {
    std::string metric = name(true, "metric name");
    LabelList labels;
    if (!at_end() && line_[pos_] == '{') parse_labels(labels);
    if (!at_blank()) fail(at_end() ? "sample without a value" : "expected a blank before the value");
    skip_blanks();
    double value = 0;
    std::string_view value_text = token();
    if (value_text.empty()) fail("sample without a value");
    if (!parse_float(value_text, value)) fail("value '" + std::string(value_text) + "' is not a number");
    skip_blanks();
    if (!at_end()) {
      std::string_view ts = token();
      if (!parse_timestamp(ts)) fail("timestamp '" + std::string(ts) + "' is not an int64");
      skip_blanks();
      if (!at_end()) fail("junk after the timestamp");
    }
    check_family(metric, labels);
    std::string key = prometheus_series_key(metric, labels);
    if (!samples_.emplace(key, value).second) fail("second sample for series " + key);
  }

  void parse_labels(LabelList& labels) {
    ++pos_;  // '{'
    std::set<std::string> names;
    while (true) {
      skip_blanks();
      if (at_end()) fail("unterminated label set");
      if (line_[pos_] == '}') break;  // also after a trailing comma, as Prometheus allows
      std::string label = name(false, "label name");
      skip_blanks();
      if (at_end() || line_[pos_] != '=') fail("expected '=' after label name");
      ++pos_;
      skip_blanks();
      if (at_end() || line_[pos_] != '"') fail("expected '\"' to open the label value");
      ++pos_;
      std::string value;
      while (true) {
        if (at_end()) fail("unterminated label value");
        char c = line_[pos_++];
        if (c == '"') break;
        if (c != '\\') {
          value += c;
          continue;
        }
        if (at_end()) fail("unterminated label value");
        char e = line_[pos_++];
        if (e == '\\')
          value += '\\';
        else if (e == '"')
          value += '"';
        else if (e == 'n')
          value += '\n';
        else
          fail(std::string("invalid escape '\\") + e + "' in label value");
      }
      if (!names.insert(label).second) fail("label '" + label + "' repeated");
      labels.emplace_back(std::move(label), std::move(value));
      skip_blanks();
      if (at_end()) fail("unterminated label set");
      if (line_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (line_[pos_] != '}') fail("expected ',' or '}' after label value");
    }
    ++pos_;  // '}'
  }

  // The sample must be part of the family of the latest HELP/TYPE line, which must have a TYPE.
  void check_family(const std::string& metric, const LabelList& labels) {
    auto type_it = types_.find(family_);
    if (family_.empty() || type_it == types_.end()) fail("sample '" + metric + "' without a preceding TYPE");
    const std::string& type = type_it->second;
    std::string suffix = metric.rfind(family_, 0) == 0 ? metric.substr(family_.size()) : "?";
    bool ok = false;
    if (type == "histogram")
      ok = suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
    else if (type == "summary")
      ok = suffix.empty() || suffix == "_sum" || suffix == "_count";
    else
      ok = suffix.empty();
    if (!ok) fail("sample '" + metric + "' is not in the family of the preceding TYPE ('" + family_ + "')");

    const char* required = type == "histogram" && suffix == "_bucket" ? "le"
                           : type == "summary" && suffix.empty()      ? "quantile"
                                                                      : nullptr;
    if (!required) return;
    auto it = std::find_if(labels.begin(), labels.end(), [&](const auto& l) { return l.first == required; });
    double bound = 0;
    if (it == labels.end() || !parse_float(it->second, bound))
      fail("sample '" + metric + "' without a numeric '" + required + "' label");
  }

  std::map<std::string, double>& samples_;
  std::string_view line_;
  size_t line_number_ = 0;
  size_t pos_ = 0;
  std::string family_;  // of the latest HELP/TYPE line
  std::set<std::string> closed_;
  std::set<std::string> helped_;
  std::map<std::string, std::string> types_;
};

}  // namespace

std::map<std::string, double> parse_prometheus_text(const std::string& text) {
  std::map<std::string, double> samples;
  if (!text.empty() && text.back() != '\n') throw std::runtime_error("prometheus text: no final newline");
  Parser parser(samples);
  size_t start = 0, line_number = 1;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    parser.parse_line(std::string_view(text).substr(start, end - start), line_number++);
    start = end + 1;
  }
  return samples;
}

std::string prometheus_series_key(const std::string& name,
                                  std::vector<std::pair<std::string, std::string>> labels) {
  if (labels.empty()) return name;
  std::sort(labels.begin(), labels.end());
  std::string key = name + '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) key += ',';
    key += labels[i].first + "=\"" + escape_label_value(labels[i].second) + '"';
  }
  return key + '}';
}

double prometheus_sample_or(const std::map<std::string, double>& samples, const std::string& key,
                            double fallback) {
  auto it = samples.find(key);
  return it == samples.end() ? fallback : it->second;
}

}  // namespace cutout::server
