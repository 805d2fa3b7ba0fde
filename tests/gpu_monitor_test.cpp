// GpuMonitor: NVML loaded at run time; without it, unavailable and never an error.
#include "server/gpu_monitor.h"

#include <gtest/gtest.h>

namespace cutout::server {
namespace {

TEST(GpuMonitor, WithoutNvmlItIsUnavailableAndSaysWhy) {
  GpuMonitor gpu("libnvidia-ml-that-does-not-exist.so.1");
  EXPECT_FALSE(gpu.available());
  EXPECT_EQ(gpu.device_count(), 0);
  EXPECT_NE(gpu.unavailable_reason().find("cannot load"), std::string::npos) << gpu.unavailable_reason();
  EXPECT_FALSE(gpu.read(0).has_value());
  EXPECT_FALSE(gpu.memory_used_bytes().has_value());
}

TEST(GpuMonitor, ALibraryThatIsNotNvmlIsUnavailable) {
  GpuMonitor gpu("libz.so.1");
  EXPECT_FALSE(gpu.available());
  EXPECT_NE(gpu.unavailable_reason().find("lacks an NVML function"), std::string::npos)
      << gpu.unavailable_reason();
}

TEST(GpuMonitor, ReadsMemoryAndUtilisationOfEachGpu) {
  GpuMonitor gpu(CUTOUT_FAKE_NVML);
  ASSERT_TRUE(gpu.available()) << gpu.unavailable_reason();
  ASSERT_EQ(gpu.device_count(), 2);
  const uint64_t gib = 1ull << 30;
  auto r0 = gpu.read(0), r1 = gpu.read(1);
  ASSERT_TRUE(r0 && r1);
  EXPECT_EQ(r0->memory_total_bytes, 24 * gib);
  EXPECT_EQ(r0->memory_used_bytes, 3 * gib);
  EXPECT_DOUBLE_EQ(r0->utilization_ratio, 0.37);
  EXPECT_EQ(r1->memory_used_bytes, 22 * gib);
  EXPECT_DOUBLE_EQ(r1->utilization_ratio, 0.0);  // not supported there: 0, the memory still read
  EXPECT_FALSE(gpu.read(2).has_value());
  EXPECT_EQ(gpu.memory_used_bytes(), 25 * gib);
}

}  // namespace
}  // namespace cutout::server
