/* An empty shared library: built under the sonames of CUDA's libraries next to tests/fake_cuda.c. */
int cutout_empty_library;
