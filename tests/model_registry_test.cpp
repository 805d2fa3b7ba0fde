#include "inference/model_registry.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "core/error.h"

namespace cutout {
namespace {

TEST(ModelRegistry, BuiltInModelsArePinned) {
  auto models = builtin_models("/m");
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].name, "isnet");
  EXPECT_EQ(models[0].path, "/m/isnet.onnx");
  EXPECT_EQ(models[0].bytes, 88188479u);
  EXPECT_EQ(models[0].sha256, "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb");
  EXPECT_EQ(models[1].name, "isnet-int8");
  EXPECT_EQ(models[1].bytes, 44342436u);
  EXPECT_EQ(models[2].name, "isnet-qdq");
  EXPECT_EQ(models[2].path, "/m/isnet-qdq.onnx");
  EXPECT_EQ(models[2].sha256, "38f1d1ace6f5cd758b59e9c77fb00efb33996e870ea9c5530485a1994b5425eb");
  for (const auto& m : models) {
    EXPECT_EQ(m.kind, ModelKind::kIsnet);
    EXPECT_EQ(m.input_size, 1024);
    EXPECT_EQ(m.activation, MatteActivation::kSigmoid);
    EXPECT_EQ(m.normalization.mean[0], 128.0f);
    EXPECT_EQ(m.normalization.std[2], 256.0f);
  }
}

TEST(ModelRegistry, DefaultIsIsnetQdq) {
  ModelChoice choice;
  choice.models_dir = "/m";
  EXPECT_EQ(resolve_model(choice).name, "isnet-qdq");
}

TEST(ModelRegistry, UnknownNameListsTheKnownOnes) {
  ModelChoice choice;
  choice.model = "u2net";
  try {
    resolve_model(choice);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("isnet, isnet-int8, isnet-qdq"), std::string::npos) << e.what();
  }
}

TEST(ModelRegistry, PathWithKindInspyrenet) {
  ModelChoice choice;
  choice.model = "/x/inspyrenet.onnx";
  choice.kind = ModelKind::kInspyrenet;
  choice.base_size = 384;
  ModelDescriptor d = resolve_model(choice);
  EXPECT_EQ(d.kind, ModelKind::kInspyrenet);
  EXPECT_EQ(d.path, "/x/inspyrenet.onnx");
  EXPECT_EQ(d.input_size, 384);
  EXPECT_EQ(d.activation, MatteActivation::kMinMax);
  EXPECT_NEAR(d.normalization.mean[0], 0.485 * 255, 1e-4);
  EXPECT_NEAR(d.normalization.std[1], 0.224 * 255, 1e-4);
  EXPECT_TRUE(d.sha256.empty());
}

TEST(ModelRegistry, PathDefaultsToIsnetKind) {
  ModelChoice choice;
  choice.model = "my.onnx";
  ModelDescriptor d = resolve_model(choice);
  EXPECT_EQ(d.kind, ModelKind::kIsnet);
  EXPECT_EQ(d.input_size, 1024);
}

TEST(ModelRegistry, BadValuesAreErrors) {
  EXPECT_THROW(parse_model_kind("u2net"), Error);
  EXPECT_EQ(parse_model_kind("inspyrenet"), ModelKind::kInspyrenet);
  EXPECT_THROW(custom_model("a.onnx", ModelKind::kInspyrenet, 100), Error);   // not a multiple of 32
  EXPECT_THROW(custom_model("a.onnx", ModelKind::kInspyrenet, 8192), Error);  // too large
  ModelChoice wrong_kind;
  wrong_kind.kind = ModelKind::kInspyrenet;
  EXPECT_THROW(resolve_model(wrong_kind), Error);
  ModelChoice wrong_size;
  wrong_size.base_size = 384;
  EXPECT_THROW(resolve_model(wrong_size), Error);
}

TEST(ModelRegistry, ModelsDirFromEnvironment) {
  setenv("CUTOUT_MODELS_DIR", "/elsewhere", 1);
  EXPECT_EQ(default_models_dir(), "/elsewhere");
  unsetenv("CUTOUT_MODELS_DIR");
  EXPECT_EQ(default_models_dir(), CUTOUT_DEFAULT_MODELS_DIR);
}

}  // namespace
}  // namespace cutout
