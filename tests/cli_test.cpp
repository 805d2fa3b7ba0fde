// The `cutout` binary itself, run as a user would, with the tiny test models.
#include <filesystem>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "inference/ort_core.h"
#include "test_support.h"

namespace cutout {
namespace {

namespace fs = std::filesystem;
using testing::cutout_binary;
using testing::run_command;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cv::Mat rgb = testing::make_test_rgb(96, 64), bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    photo_ = dir_.path() / "photo.jpg";
    cv::imwrite(photo_.string(), bgr);
    cv::imwrite((dir_.path() / "other.png").string(), bgr);
    auto bytes = testing::read_file(photo_);
    bytes.resize(bytes.size() / 2);
    broken_ = dir_.path() / "broken.jpg";
    testing::write_file(broken_, bytes);
    model_ = "--threads 1 --model " + (testing::test_models_dir() / "tiny_isnet.onnx").string();
  }

  // Runs cutout with arguments; stdout in *out, stderr captured into err_.
  int cutout(const std::string& args, std::string* out = nullptr) {
    const fs::path err = dir_.path() / "stderr.txt";
    int status = run_command(cutout_binary().string() + " " + args + " 2>" + err.string(), out);
    auto bytes = testing::read_file(err);
    err_.assign(bytes.begin(), bytes.end());
    return status;
  }

  testing::TempDir dir_;
  fs::path photo_, broken_;
  std::string model_, err_;
};

TEST_F(CliTest, RemoveWritesAnRgbaPng) {
  const fs::path out = dir_.path() / "out.png";
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + out.string() + " " + model_), 0) << err_;
  cv::Mat png = cv::imread(out.string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(png.type(), CV_8UC4);
  EXPECT_EQ(png.size(), cv::Size(96, 64));
}

TEST_F(CliTest, FormatFromExtensionAndMask) {
  const fs::path out = dir_.path() / "out.webp";
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + out.string() + " --mask " + model_), 0) << err_;
  EXPECT_EQ(cv::imread(out.string(), cv::IMREAD_UNCHANGED).channels(), 4);
  EXPECT_EQ(cv::imread((dir_.path() / "out.mask.png").string(), cv::IMREAD_UNCHANGED).type(), CV_8UC1);
  const fs::path jpg = dir_.path() / "out.jpg";
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + jpg.string() + " --background '#102030' " + model_),
            0)
      << err_;
  EXPECT_EQ(cv::imread(jpg.string(), cv::IMREAD_UNCHANGED).type(), CV_8UC3);
}

TEST_F(CliTest, BatchSkipsABadFileAndSaysSo) {
  const fs::path out = dir_.path() / "results";
  const std::string inputs =
      photo_.string() + " " + broken_.string() + " " + (dir_.path() / "other.png").string();
  EXPECT_EQ(cutout("remove " + inputs + " -o " + out.string() + " " + model_), 1);
  EXPECT_TRUE(fs::exists(out / "photo.png"));
  EXPECT_TRUE(fs::exists(out / "other.png"));
  EXPECT_FALSE(fs::exists(out / "broken.png"));
  EXPECT_NE(err_.find("broken.jpg"), std::string::npos) << err_;
  EXPECT_NE(err_.find("undecodable_image"), std::string::npos) << err_;
  EXPECT_NE(err_.find("1 of 3 inputs failed"), std::string::npos) << err_;
}

// The API's crop=subject, margin and max_side, as flags.
TEST_F(CliTest, CropMarginAndMaxSide) {
  const fs::path full = dir_.path() / "full.png", cropped = dir_.path() / "cropped.png",
                 small = dir_.path() / "small.png";
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + full.string() + " " + model_), 0) << err_;
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + cropped.string() + " --crop subject --margin 0 " +
                   model_),
            0)
      << err_;
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + small.string() + " --max-side 48 " + model_), 0)
      << err_;
  const cv::Mat f = cv::imread(full.string(), cv::IMREAD_UNCHANGED);
  const cv::Mat c = cv::imread(cropped.string(), cv::IMREAD_UNCHANGED);
  // The crop is the box of the pixels at least 16/255 opaque in the full cut-out.
  cv::Mat alpha;
  cv::extractChannel(f, alpha, 3);
  std::vector<cv::Point> opaque;
  cv::findNonZero(alpha >= 16, opaque);
  EXPECT_EQ(c.size(), opaque.empty() ? f.size() : cv::boundingRect(opaque).size());
  EXPECT_EQ(cv::imread(small.string(), cv::IMREAD_UNCHANGED).size(), cv::Size(48, 32));
  EXPECT_EQ(cutout("remove " + photo_.string() + " -o " + small.string() + " --crop left " + model_), 2)
      << err_;
  EXPECT_NE(err_.find("subject"), std::string::npos) << err_;
}

// A batch job's tasks: each takes its share of a folder, together they write every output once,
// log JSON lines with a summary, and a retried task skips what is done.
TEST_F(CliTest, ShardsSplitAFolderAcrossTasks) {
  const fs::path in = dir_.path() / "in", out = dir_.path() / "out";
  fs::create_directories(in / "sub");
  for (const char* name : {"a.jpg", "b.jpg", "c.jpg", "sub/d.jpg", "sub/e.jpg"})
    fs::copy_file(photo_, in / name);
  fs::copy_file(broken_, in / "sub" / "f.jpg");
  std::vector<nlohmann::json> summaries;
  for (int task = 0; task < 3; ++task) {
    std::string log;
    const int status = cutout("remove " + in.string() + " -o " + out.string() + " --shard " +
                                  std::to_string(task) + "/3 --progress json " + model_,
                              &log);
    // Round robin over a b c sub/d sub/e sub/f: task 2 has c and the broken sub/f.
    EXPECT_EQ(status, task == 2 ? 1 : 0) << err_;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      auto j = nlohmann::json::parse(line);  // every stdout line is a JSON object
      ASSERT_TRUE(j.contains("severity")) << line;
      if (j["message"] == "batch summary") summaries.push_back(j);
    }
  }
  for (const char* name : {"a.png", "b.png", "c.png", "sub/d.png", "sub/e.png"}) {
    EXPECT_TRUE(fs::exists(out / name)) << name;
  }
  EXPECT_FALSE(fs::exists(out / "sub" / "f.png"));
  ASSERT_EQ(summaries.size(), 3u);
  int processed = 0;
  for (const auto& s : summaries) {
    EXPECT_EQ(s["inputs_total"], 6);
    EXPECT_EQ(s["inputs"], 2);
    processed += s["processed"].get<int>();
  }
  EXPECT_EQ(processed, 5);
  EXPECT_EQ(summaries[2]["failed"], 1);
  EXPECT_EQ(summaries[2]["severity"], "WARNING");

  // A retry of task 0 skips both of its inputs: their outputs exist.
  std::string log;
  ASSERT_EQ(cutout("remove " + in.string() + " -o " + out.string() +
                       " --shard 0/3 --progress json --skip-existing " + model_,
                   &log),
            0)
      << err_;
  EXPECT_NE(log.find("\"skipped_existing\":2"), std::string::npos) << log;
  EXPECT_EQ(cutout("remove " + in.string() + " --shard 3/3 " + model_), 2);
  EXPECT_NE(err_.find("INDEX/COUNT"), std::string::npos) << err_;
}

TEST_F(CliTest, StdinToStdout) {
  std::string out;
  ASSERT_EQ(cutout("remove - -o - " + model_ + " < " + photo_.string(), &out), 0) << err_;
  std::vector<uint8_t> bytes(out.begin(), out.end());
  cv::Mat png = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  EXPECT_EQ(png.type(), CV_8UC4);
  EXPECT_EQ(png.cols, 96);
}

TEST_F(CliTest, DefaultOutputNameInTheWorkingDirectory) {
  const std::string cmd = "cd " + dir_.path().string() + " && " + cutout_binary().string() +
                          " remove photo.jpg " + model_ + " 2>/dev/null";
  ASSERT_EQ(run_command(cmd), 0);
  EXPECT_TRUE(fs::exists(dir_.path() / "photo.cutout.png"));
}

TEST_F(CliTest, EffectsWriteOneFileEachInTheSmallestPngType) {
  const fs::path out = dir_.path() / "fx";
  ASSERT_EQ(cutout("remove " + photo_.string() + " --effects color,bw,popart,dither --mask -o " +
                   out.string() + " " + model_),
            0)
      << err_;
  // IHDR colour type: 6 RGBA, 4 grey+alpha, 3 palette, 0 grey.
  const std::pair<const char*, int> expected[] = {{"photo.color.png", 6},
                                                  {"photo.bw.png", 4},
                                                  {"photo.popart.png", 3},
                                                  {"photo.dither.png", 3},
                                                  {"photo.mask.png", 0}};
  for (const auto& [name, colour_type] : expected) {
    auto bytes = testing::read_file(out / name);
    ASSERT_GT(bytes.size(), 26u) << name;
    EXPECT_EQ(bytes[25], colour_type) << name;
    cv::Mat img = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
    EXPECT_EQ(img.cols, 96) << name;
  }
}

TEST_F(CliTest, EffectParametersAreChecked) {
  const fs::path out = dir_.path() / "grid";
  EXPECT_EQ(cutout("remove " + photo_.string() + " --effects popart --param popart_grid=2x2 -o " +
                   (dir_.path() / "grid.png").string() + " " + model_),
            0)
      << err_;
  EXPECT_EQ(cv::imread((dir_.path() / "grid.png").string(), cv::IMREAD_UNCHANGED).cols, 96);
  EXPECT_EQ(cutout("remove " + photo_.string() + " --effects popart --param popart_grid=3x3 " + model_), 2);
  EXPECT_NE(err_.find("1x1, 2x2"), std::string::npos) << err_;
  EXPECT_EQ(cutout("remove " + photo_.string() + " --effects sepia " + model_), 2);
  EXPECT_NE(err_.find("color, bw, popart, dither"), std::string::npos) << err_;
  EXPECT_EQ(cutout("remove " + photo_.string() + " --param nonsense " + model_), 2);
  EXPECT_EQ(cutout("remove " + photo_.string() + " --effects bw,dither -o " +
                   (dir_.path() / "one.png").string() + " " + model_),
            2);
  EXPECT_NE(err_.find("give a folder"), std::string::npos) << err_;
}

TEST_F(CliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(cutout("remove " + photo_.string() + " --format gif " + model_), 2);
  EXPECT_NE(err_.find("png, webp, jpeg"), std::string::npos) << err_;
  EXPECT_EQ(cutout("remove " + photo_.string() + " --model nosuchmodel"), 2);
  EXPECT_NE(err_.find("isnet"), std::string::npos) << err_;
  EXPECT_EQ(cutout("remove " + photo_.string() + " --format jpeg --background transparent " + model_), 2);
  EXPECT_EQ(cutout("remove"), 2);
  EXPECT_EQ(cutout("frobnicate"), 2);
}

TEST_F(CliTest, BrokenModelFileFailsClearly) {
  EXPECT_EQ(cutout("remove " + photo_.string() + " --model " +
                   (testing::test_models_dir() / "not_a_model.onnx").string()),
            1);
  EXPECT_NE(err_.find("model_error"), std::string::npos) << err_;
}

// One binary, either ONNX Runtime core (issue 17): the same cut-out from both; --device cuda on a
// machine without a GPU fails naming what it lacks, --device auto runs on cpu and says why.
TEST_F(CliTest, EitherCoreAndTheDeviceChoice) {
  const fs::path a = dir_.path() / "asus4.png", m = dir_.path() / "microsoft.png";
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + a.string() + " --ort-core asus4 " + model_), 0)
      << err_;
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + m.string() + " --ort-core microsoft " + model_), 0)
      << err_;
  EXPECT_EQ(testing::read_file(a), testing::read_file(m));
  EXPECT_EQ(
      cutout("remove " + photo_.string() + " -o " + a.string() + " --ort-core /nonexistent.so " + model_), 1);
  EXPECT_NE(err_.find("cannot load the ONNX Runtime core '/nonexistent.so'"), std::string::npos) << err_;

  const std::string missing = cuda_missing(ort_core_path("microsoft"));
  if (missing.empty()) GTEST_SKIP() << "this machine can run CUDA";
  EXPECT_EQ(cutout("remove " + photo_.string() + " -o " + a.string() + " --device cuda " + model_), 1);
  EXPECT_NE(err_.find("--device cuda: this machine lacks " + missing), std::string::npos) << err_;
  ASSERT_EQ(cutout("remove " + photo_.string() + " -o " + a.string() + " --device auto " + model_), 0)
      << err_;
  EXPECT_NE(err_.find("--device auto: running on cpu: no CUDA: this machine lacks " + missing),
            std::string::npos)
      << err_;
}

TEST_F(CliTest, ModelsListsTheRegistry) {
  std::string out;
  cutout("models --json", &out);  // exit status depends on whether setup fetched the models
  auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["models"].size(), 3u);
  EXPECT_EQ(j["models"][0]["name"], "isnet");
  EXPECT_EQ(j["models"][0]["default"], false);
  EXPECT_EQ(j["models"][1]["name"], "isnet-int8");
  EXPECT_EQ(j["models"][2]["name"], "isnet-qdq");
  EXPECT_EQ(j["models"][2]["default"], true);

  // A wrong file is reported as such.
  const fs::path fake = dir_.path() / "models";
  fs::create_directories(fake);
  testing::write_file(fake / "isnet.onnx", {1, 2, 3});
  EXPECT_EQ(cutout("models --json --models-dir " + fake.string(), &out), 1);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["models"][0]["status"].get<std::string>().rfind("size mismatch", 0), 0u);
  EXPECT_EQ(j["models"][1]["status"], "missing");
}

TEST_F(CliTest, EvalScoresPrecomputedAlphas) {
  const fs::path eval = testing::eval_dir();
  std::string out;
  ASSERT_EQ(cutout("eval --json --images " + (eval / "davis2016/images").string() + " --masks " +
                       (eval / "davis2016/masks").string() + " --alphas " +
                       (eval / "reference/imgly-isnet-medium").string(),
                   &out),
            0)
      << err_;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["count"], 13);
  EXPECT_NEAR(j["mean"]["iou"].get<double>(), 0.839, 0.0051);
  EXPECT_NEAR(j["mean"]["mae"].get<double>(), 0.0319, 0.00051);
}

TEST_F(CliTest, EvalRunsAModel) {
  const fs::path images = dir_.path() / "images", masks = dir_.path() / "masks";
  fs::create_directories(images);
  fs::create_directories(masks);
  fs::copy(photo_, images / "a.jpg");
  cv::imwrite((masks / "a.png").string(), cv::Mat(64, 96, CV_8UC1, cv::Scalar(255)));
  std::string out;
  ASSERT_EQ(
      cutout("eval --json --images " + images.string() + " --masks " + masks.string() + " " + model_, &out),
      0)
      << err_;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["count"], 1);
  EXPECT_EQ(j["images"][0]["name"], "a");

  // The network shown the photo at a quarter of its size: the matte still comes back at the
  // photo's size, and a scale outside (0, 1] is refused.
  const fs::path saved = dir_.path() / "saved";
  ASSERT_EQ(cutout("eval --json --network-scale 0.25 --save-alphas " + saved.string() + " --images " +
                       images.string() + " --masks " + masks.string() + " " + model_,
                   &out),
            0)
      << err_;
  const cv::Mat alpha = cv::imread((saved / "a.png").string(), cv::IMREAD_UNCHANGED);
  const cv::Mat original = cv::imread(photo_.string());
  EXPECT_EQ(alpha.size(), original.size());
  EXPECT_NE(cutout("eval --network-scale 0 --images " + images.string() + " --masks " + masks.string() + " " +
                       model_,
                   &out),
            0);
}

TEST_F(CliTest, BenchReportsEveryFigure) {
  std::string out;
  ASSERT_EQ(cutout("bench --json --runs 2 --image " + photo_.string() + " " + model_, &out), 0) << err_;
  auto j = nlohmann::json::parse(out);
  for (const char* key : {"model_load_ms", "first_inference_ms", "pipeline_over_bare", "peak_rss_bytes"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_GT(j["bare_run_ms"]["median"].get<double>(), 0.0);
  EXPECT_GT(j["pipeline_ms"]["median"].get<double>(), 0.0);
  EXPECT_GT(j["pipeline_over_bare"].get<double>(), 0.0);
  EXPECT_EQ(j["bare_run_ms"]["all"].size(), 2u);
}

}  // namespace
}  // namespace cutout
