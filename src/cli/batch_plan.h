// The inputs of `cutout remove` as a batch: folders walked, names made unique, and the share of one
// task when a batch job splits the inputs across tasks (`--shard INDEX/COUNT`).
//
// Everything here is deterministic: the full list is expanded and named the same way in every task,
// and only then cut into shards, so that tasks agree on who does what and on every output name
// without talking to each other. Pure functions apart from reading folders; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cutout::cli {

struct Shard {
  size_t index = 0;
  size_t count = 1;
  std::string source = "flag";  // "flag", "cloud_run" (CLOUD_RUN_TASK_*), or "default" (auto, no env)
};

using EnvLookup = std::function<const char*(const char*)>;

// "INDEX/COUNT" (0 <= INDEX < COUNT) or "auto": CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT, which
// Cloud Run Jobs set for each task; without them, 0/1. (A Kubernetes Indexed Job passes
// "$(JOB_COMPLETION_INDEX)/N" in its args, which Kubernetes expands.) Throws Error(kInvalidArgument).
Shard parse_shard(
    std::string_view text, const EnvLookup& getenv = [](const char* name) { return std::getenv(name); });

struct BatchItem {
  std::string input;           // a file path, or "-" for stdin
  std::filesystem::path name;  // output name without extension, relative: "photo", "trip/beach"
  bool from_folder = false;    // found by walking a folder given as an input
};

// The image files of a folder, by extension (jpg, jpeg, png, webp, bmp, tif, tiff, gif, any case),
// walked recursively (symlinked folders are not followed), sorted by path.
bool has_image_extension(const std::filesystem::path& path);

// Each input in order; a folder becomes its image files, named by their path inside it (so
// trip/beach.jpg in the folder is "trip/beach"), in sorted order. Names are unique over the whole
// list: a second "photo" becomes "photo-2", in list order. Throws Error(kIo) when a folder cannot be
// read or holds no image.
std::vector<BatchItem> expand_inputs(const std::vector<std::string>& inputs);

// The items of one shard: positions i with i % count == index (round robin, so a sorted folder of
// mixed sizes spreads evenly; shard sizes differ by at most one).
std::vector<BatchItem> take_shard(const std::vector<BatchItem>& items, const Shard& shard);

}  // namespace cutout::cli
