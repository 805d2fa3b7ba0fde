// Small integer helpers of 8-bit pixel arithmetic, shared by compositing and output encoding.
#pragma once

#include <cstdint>

namespace cutout {

// x / 255 rounded to nearest, exact for every x = a * b with 8-bit a and b (x <= 255 * 255):
// the usual way to scale a colour by an 8-bit alpha without a division.
inline uint32_t mul_div255(uint32_t x) {
  return (x + 128 + ((x + 128) >> 8)) >> 8;
}

}  // namespace cutout
