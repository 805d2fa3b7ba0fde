// The batch plan of `cutout remove`: folder walking, unique names, and shards that cover the batch
// exactly once whatever the task count.
#include "cli/batch_plan.h"

#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "test_support.h"

namespace cutout::cli {
namespace {

namespace fs = std::filesystem;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(ParseShard, IndexSlashCount) {
  const Shard s = parse_shard("2/5");
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.source, "flag");
  for (const char* bad : {"5/5", "1/0", "-1/3", "1", "a/b", "1/2/3", "/3", "1/", " 1/2", "auto2"}) {
    EXPECT_THROW(parse_shard(bad), Error) << bad;
  }
}

TEST(ParseShard, AutoReadsCloudRunsTaskVariables) {
  Shard s = parse_shard("auto", env_of({{"CLOUD_RUN_TASK_INDEX", "3"}, {"CLOUD_RUN_TASK_COUNT", "8"}}));
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 8u);
  EXPECT_EQ(s.source, "cloud_run");
  s = parse_shard("auto", env_of({}));
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.source, "default");
  EXPECT_THROW(parse_shard("auto", env_of({{"CLOUD_RUN_TASK_INDEX", "3"}})), Error);
  EXPECT_THROW(parse_shard("auto", env_of({{"CLOUD_RUN_TASK_INDEX", "8"}, {"CLOUD_RUN_TASK_COUNT", "8"}})),
               Error);
}

class ExpandInputs : public ::testing::Test {
 protected:
  void touch(const fs::path& relative) {
    fs::create_directories((dir_.path() / relative).parent_path());
    testing::write_file(dir_.path() / relative, {1});
  }
  testing::TempDir dir_;
};

TEST_F(ExpandInputs, WalksFoldersSortedKeepingSubfoldersInNames) {
  for (const char* f : {"in/b.jpg", "in/a.PNG", "in/sub/c.webp", "in/notes.txt", "in/sub/deeper/d.tiff"})
    touch(f);
  const auto items = expand_inputs({(dir_.path() / "in").string()});
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].name, "a");
  EXPECT_EQ(items[1].name, "b");
  EXPECT_EQ(items[2].name, fs::path("sub/c"));
  EXPECT_EQ(items[3].name, fs::path("sub/deeper/d"));
  EXPECT_TRUE(items[0].from_folder);
  EXPECT_EQ(items[2].input, (dir_.path() / "in" / "sub" / "c.webp").string());
}

TEST_F(ExpandInputs, NamesAreUniqueOverTheWholeList) {
  touch("x/photo.jpg");
  touch("y/photo.jpg");
  touch("f/photo.png");
  touch("f/photo.jpg");
  const auto items =
      expand_inputs({(dir_.path() / "x/photo.jpg").string(), (dir_.path() / "y/photo.jpg").string(),
                     (dir_.path() / "f").string(), "-"});
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].name, "photo");
  EXPECT_EQ(items[1].name, "photo-2");
  EXPECT_EQ(items[2].name, "photo-3");  // f/photo.jpg: the folder's names start at its root
  EXPECT_EQ(items[3].name, "photo-4");  // f/photo.png
  EXPECT_EQ(items[4].name, "stdin");
  EXPECT_FALSE(items[0].from_folder);
}

TEST_F(ExpandInputs, EmptyOrUnreadableFolderIsAnError) {
  fs::create_directories(dir_.path() / "empty");
  touch("empty/readme.txt");
  EXPECT_THROW(expand_inputs({(dir_.path() / "empty").string()}), Error);
}

TEST_F(ExpandInputs, ShardsCoverEveryItemExactlyOnce) {
  for (int i = 0; i < 23; ++i) touch("in/img" + std::to_string(100 + i) + ".jpg");
  const auto all = expand_inputs({(dir_.path() / "in").string()});
  ASSERT_EQ(all.size(), 23u);
  for (size_t count : {1u, 2u, 4u, 7u, 23u, 40u}) {
    std::multiset<std::string> seen;
    size_t smallest = all.size(), largest = 0;
    for (size_t index = 0; index < count; ++index) {
      const auto mine = take_shard(all, Shard{index, count});
      smallest = std::min(smallest, mine.size());
      largest = std::max(largest, mine.size());
      for (const auto& item : mine) seen.insert(item.name.string());
      // Deterministic: the same call gives the same share.
      EXPECT_EQ(take_shard(all, Shard{index, count}).size(), mine.size());
    }
    EXPECT_EQ(seen.size(), all.size()) << count;
    for (const auto& item : all) EXPECT_EQ(seen.count(item.name.string()), 1u) << count;
    EXPECT_LE(largest - smallest, 1u) << count;
  }
}

}  // namespace
}  // namespace cutout::cli
