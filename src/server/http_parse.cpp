#include "server/http_parse.h"

#include <cctype>

namespace cutout::server {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The part's headers (between its delimiter line and the blank line) into name, filename, type.
bool parse_part_headers(std::string_view headers, std::string* name, std::string* filename,
                        std::string* type) {
  bool disposition = false;
  while (!headers.empty()) {
    const size_t eol = headers.find("\r\n");
    std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view field = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(field, "Content-Disposition")) {
      disposition = true;
      *name = header_parameter(value, "name");
      *filename = header_parameter(value, "filename");
    } else if (iequals(field, "Content-Type")) {
      *type = std::string(value);
    }
  }
  return disposition && !name->empty();
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string url_decode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim_space(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::multimap<std::string, std::string> parse_query(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string key = url_decode(pair.substr(0, eq), true);
    if (key.empty()) continue;
    out.emplace(key, eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1), true));
  }
  return out;
}

std::string header_parameter(std::string_view value, std::string_view name) {
  size_t pos = value.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = trim(value.substr(pos + 1));
    const size_t eq = rest.find('=');
    if (eq == std::string_view::npos) return "";
    const std::string_view key = trim(rest.substr(0, eq));
    rest = trim(rest.substr(eq + 1));
    std::string_view v;
    if (!rest.empty() && rest.front() == '"') {
      const size_t close = rest.find('"', 1);
      if (close == std::string_view::npos) return "";
      v = rest.substr(1, close - 1);
      pos = rest.find(';', close);
      value = rest;
    } else {
      const size_t semi = rest.find(';');
      v = trim(rest.substr(0, semi));
      pos = semi;
      value = rest;
    }
    if (iequals(key, name)) return std::string(v);
  }
  return "";
}

bool parse_multipart(std::string_view body, std::string_view content_type,
                     std::map<std::string, std::string>* form, std::map<std::string, FilePart>* files,
                     std::string* error) {
  const std::string boundary = header_parameter(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) {
    *error = "multipart body without a boundary in its Content-Type";
    return false;
  }
  const std::string delimiter = "--" + boundary;
  // The first delimiter opens the body (a preamble before it is ignored, RFC 2046 5.1.1).
  size_t pos = body.rfind(delimiter, 0) == 0 ? 0 : body.find("\r\n" + delimiter);
  if (pos == std::string_view::npos) {
    *error = "multipart body without its opening boundary";
    return false;
  }
  pos += pos == 0 ? delimiter.size() : delimiter.size() + 2;
  const std::string next = "\r\n" + delimiter;
  for (;;) {
    if (body.substr(pos, 2) == "--") return true;  // the closing delimiter
    const size_t line_end = body.find("\r\n", pos);
    if (line_end == std::string_view::npos) break;
    const size_t headers_end = body.find("\r\n\r\n", line_end);
    if (headers_end == std::string_view::npos) {
      *error = "multipart part without the blank line after its headers";
      return false;
    }
    const size_t content_start = headers_end + 4;
    const size_t content_end = body.find(next, headers_end + 2);
    if (content_end == std::string_view::npos) break;
    std::string name, filename, type;
    if (!parse_part_headers(body.substr(line_end + 2, headers_end + 2 - (line_end + 2)), &name, &filename,
                            &type)) {
      *error = "multipart part without a Content-Disposition name";
      return false;
    }
    // an empty part may share its blank line's CRLF with the next delimiter
    const std::string_view content = content_end <= content_start
                                         ? std::string_view()
                                         : body.substr(content_start, content_end - content_start);
    if (filename.empty() && type.empty()) {  // as cpp-httplib split them before
      (*form)[name] = std::string(content);
      files->erase(name);
    } else {
      (*files)[name] = FilePart{filename, type, std::string(content)};
      form->erase(name);
    }
    pos = content_end + next.size();
  }
  *error = "multipart body without its closing boundary";
  return false;
}

}  // namespace cutout::server
