/* A stand-in for the NVIDIA driver's libcuda.so.1 with the two functions cutout's CUDA check calls
 * (cuInit, cuDeviceGetCount: two GPUs), built as libcuda.so.1 into a directory of its own; empty
 * libraries with the sonames of the CUDA 13 runtime, cuBLAS, cuRAND and cuDNN lie beside it
 * (tests/CMakeLists.txt). On LD_LIBRARY_PATH they pass the check of what --device cuda needs, so
 * the service starts on the CUDA-capable core; its CUDA provider then fails to load against the
 * empty libraries, which is what the tests expect of a machine without a GPU. */
int cuInit(unsigned int flags) {
  (void)flags;
  return 0;
}
int cuDeviceGetCount(int* count) {
  *count = 2;
  return 0;
}
