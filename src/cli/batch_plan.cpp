#include "cli/batch_plan.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <system_error>

#include "core/error.h"

namespace fs = std::filesystem;

namespace cutout::cli {
namespace {

std::optional<size_t> parse_count(std::string_view text) {
  size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

Shard checked(std::optional<size_t> index, std::optional<size_t> count, std::string source,
              std::string_view what) {
  if (!index || !count || *count == 0 || *index >= *count) {
    throw Error(
        ErrorCode::kInvalidArgument,
        "--shard wants INDEX/COUNT with 0 <= INDEX < COUNT (e.g. 0/4) or auto, got " + std::string(what));
  }
  return Shard{*index, *count, std::move(source)};
}

// The folder's image files, sorted by their path inside it (generic form, so the order is the same
// on every machine).
std::vector<fs::path> images_in_folder(const fs::path& folder) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && has_image_extension(it->path())) {
      found.push_back(it->path().lexically_relative(folder));
    }
  }
  if (ec) throw Error(ErrorCode::kIo, "cannot read folder " + folder.string() + ": " + ec.message());
  if (found.empty()) throw Error(ErrorCode::kIo, "folder " + folder.string() + " holds no image files");
  std::sort(found.begin(), found.end(),
            [](const fs::path& a, const fs::path& b) { return a.generic_string() < b.generic_string(); });
  return found;
}

}  // namespace

Shard parse_shard(std::string_view text, const EnvLookup& getenv) {
  if (text == "auto") {
    const char* index = getenv("CLOUD_RUN_TASK_INDEX");
    const char* count = getenv("CLOUD_RUN_TASK_COUNT");
    if (!index && !count) return Shard{0, 1, "default"};
    const std::string what = "auto with CLOUD_RUN_TASK_INDEX=" + std::string(index ? index : "(unset)") +
                             " CLOUD_RUN_TASK_COUNT=" + std::string(count ? count : "(unset)");
    return checked(index ? parse_count(index) : std::nullopt, count ? parse_count(count) : std::nullopt,
                   "cloud_run", what);
  }
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return checked(std::nullopt, std::nullopt, "flag", text);
  return checked(parse_count(text.substr(0, slash)), parse_count(text.substr(slash + 1)), "flag", text);
}

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::set<std::string> kImage = {".jpg", ".jpeg", ".png",  ".webp",
                                               ".bmp", ".tif",  ".tiff", ".gif"};
  return kImage.count(ext) > 0;
}

std::vector<BatchItem> expand_inputs(const std::vector<std::string>& inputs) {
  std::vector<BatchItem> items;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (input != "-" && fs::is_directory(input, ec)) {
      for (const fs::path& relative : images_in_folder(input)) {
        fs::path name = relative;
        items.push_back({(fs::path(input) / relative).string(), name.replace_extension(), true});
      }
    } else {
      items.push_back({input, input == "-" ? fs::path("stdin") : fs::path(input).stem(), false});
    }
  }
  // Unique names over the whole list, before any sharding, so every task names alike.
  std::set<std::string> used;
  for (BatchItem& item : items) {
    const std::string stem = item.name.generic_string();
    std::string name = stem;
    for (int n = 2; used.count(name); ++n) name = stem + '-' + std::to_string(n);
    item.name = name;
    used.insert(name);
  }
  return items;
}

std::vector<BatchItem> take_shard(const std::vector<BatchItem>& items, const Shard& shard) {
  std::vector<BatchItem> mine;
  for (size_t i = shard.index; i < items.size(); i += shard.count) mine.push_back(items[i]);
  return mine;
}

}  // namespace cutout::cli
