/* A stand-in for libnvidia-ml.so.1 with NVML's ABI for the functions GpuMonitor calls, so that
 * its loading and reading are tested on machines without an NVIDIA driver. Two GPUs; GPU 1's
 * utilisation is not supported (NVML_ERROR_NOT_SUPPORTED = 3), as on some MIG slices. */
typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
  unsigned int gpu, memory;
} nvmlUtilization_t;
static int initialised;
static int devices[2];

int nvmlInit_v2(void) {
  initialised = 1;
  return 0;
}
int nvmlShutdown(void) {
  initialised = 0;
  return 0;
}
int nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialised) return 1;
  *count = 2;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (!initialised || index > 1) return 2;
  *device = &devices[index];
  return 0;
}
int nvmlDeviceGetMemoryInfo(void* device, nvmlMemory_t* memory) {
  unsigned long long gib = 1ull << 30;
  memory->total = 24 * gib;
  memory->used = (device == &devices[0] ? 3 : 22) * gib;
  memory->free = memory->total - memory->used;
  return 0;
}
int nvmlDeviceGetUtilizationRates(void* device, nvmlUtilization_t* utilization) {
  if (device != &devices[0]) return 3;
  utilization->gpu = 37;
  utilization->memory = 12;
  return 0;
}
