// The parts of an HTTP request the transport takes apart itself: percent-decoding, query strings
// and multipart/form-data bodies (RFC 7578). Pure functions over bytes, so the fuzzers
// (fuzz/multipart_fuzz.cpp, fuzz/query_fuzz.cpp) can drive them directly.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "server/http_server.h"

namespace cutout::server {

// ASCII case-insensitive equality (header and parameter names).
bool iequals(std::string_view a, std::string_view b);
// ASCII lower case.
std::string lowercase(std::string_view s);
// Without leading and trailing white space (isspace): the items of a configured comma list.
std::string_view trim_space(std::string_view s);

// %XX sequences decoded (a malformed one is kept as it is); with plus_as_space, '+' is ' '
// (query strings and form values, not paths).
std::string url_decode(std::string_view text, bool plus_as_space);

// "a=1&b=x+y&c" -> {a: 1, b: "x y", c: ""}; repeated names keep every value, in order.
std::multimap<std::string, std::string> parse_query(std::string_view query);

// One parameter of a header value, e.g. boundary of `multipart/form-data; boundary="xyz"`
// (case-insensitive name, quotes removed); "" when absent.
std::string header_parameter(std::string_view value, std::string_view name);

// A multipart/form-data body into its fields: a part with a filename or a Content-Type is a file,
// any other a form field; a repeated name keeps the last part. False with the reason in *error
// when the body is malformed (no boundary in the type, no opening or closing delimiter, a part
// without a name or without its blank line).
bool parse_multipart(std::string_view body, std::string_view content_type,
                     std::map<std::string, std::string>* form, std::map<std::string, FilePart>* files,
                     std::string* error);

}  // namespace cutout::server
