// Tests of deflate_runs.h: every piece inflates (zlib, raw deflate) back to its input, alone and
// concatenated; runs are found (a run-heavy input shrinks) and never reach before the piece.
#include "core/deflate_runs.h"

#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

namespace cutout {
namespace {

// Inflates a raw deflate stream strictly: it must end (final block) exactly at its last byte.
std::vector<uint8_t> inflate_raw(const std::vector<uint8_t>& stream, size_t expected_size) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, -15), Z_OK);
  std::vector<uint8_t> out(expected_size + 16);
  zs.next_in = const_cast<uint8_t*>(stream.data());
  zs.avail_in = static_cast<uInt>(stream.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  EXPECT_EQ(rc, Z_STREAM_END) << (zs.msg ? zs.msg : "");
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the final block";
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::vector<uint8_t> deflated(const std::vector<uint8_t>& data, bool final = true) {
  std::vector<uint8_t> out;
  deflate_runs(data.data(), data.size(), final, out);
  return out;
}

// Like a filtered cut-out row stream: long runs of one value (transparent areas), short runs,
// and noise, with run lengths across every length code's range and past 258.
std::vector<uint8_t> mixed(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> data;
  data.reserve(n);
  while (data.size() < n) {
    const int kind = static_cast<int>(rng() % 3);
    const size_t len = kind == 0 ? rng() % 2000 : kind == 1 ? 1 + rng() % 12 : 1 + rng() % 300;
    const auto v = static_cast<uint8_t>(rng());
    for (size_t k = 0; k < len && data.size() < n; ++k)
      data.push_back(kind == 2 ? static_cast<uint8_t>(rng()) : v);
  }
  return data;
}

TEST(DeflateRuns, RoundTripsMixedData) {
  for (const size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{100}, size_t{70000}, size_t{3} << 20}) {
    const std::vector<uint8_t> data = mixed(n, static_cast<uint32_t>(n));
    EXPECT_EQ(inflate_raw(deflated(data), n), data) << n << " bytes";
  }
}

TEST(DeflateRuns, EmptyInputIsAValidStream) {
  EXPECT_TRUE(inflate_raw(deflated({}), 0).empty());
}

TEST(DeflateRuns, EveryRunLengthRoundTrips) {
  // Runs of 1..600 after a different byte: every length code, its extras, and 258 + remainder.
  std::vector<uint8_t> data;
  for (int len = 1; len <= 600; ++len)
    data.insert(data.end(), static_cast<size_t>(len), static_cast<uint8_t>(len));
  EXPECT_EQ(inflate_raw(deflated(data), data.size()), data);
}

TEST(DeflateRuns, LiteralsOnlyAndOneValueOnly) {
  std::vector<uint8_t> noise(200000);
  std::mt19937 rng(7);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  const std::vector<uint8_t> packed = deflated(noise);
  EXPECT_EQ(inflate_raw(packed, noise.size()), noise);
  EXPECT_LT(packed.size(), noise.size() * 101 / 100) << "uniform noise costs about 8 bits a byte";

  const std::vector<uint8_t> zeros(5'000'000, 0);
  const std::vector<uint8_t> packed_zeros = deflated(zeros);
  EXPECT_EQ(inflate_raw(packed_zeros, zeros.size()), zeros);
  // 258 bytes a token at about 2 bits: zlib's Z_RLE gets 4.9 KB for the same.
  EXPECT_LT(packed_zeros.size(), 8000u);
}

TEST(DeflateRuns, PiecesConcatenateIntoOneStream) {
  // As the PNG writer uses it: each stripe a non-final piece, the last one final. A piece starts
  // with a run of the previous piece's last byte, which must be coded as literals, not a match.
  const std::vector<uint8_t> data = mixed(1 << 20, 99);
  std::vector<uint8_t> stream;
  const size_t cuts[] = {0, 1000, 1001, 300000, 300000, 700001, data.size()};
  for (size_t c = 0; c + 1 < std::size(cuts); ++c) {
    const bool final = c + 2 == std::size(cuts);
    const size_t n = cuts[c + 1] - cuts[c];
    const size_t before = stream.size();
    deflate_runs(data.data() + cuts[c], n, final, stream);
    if (!final) {
      // Ends as zlib's sync flush does: an empty stored block, byte-aligned.
      ASSERT_GE(stream.size() - before, 4u);
      EXPECT_EQ(std::vector<uint8_t>(stream.end() - 4, stream.end()),
                (std::vector<uint8_t>{0, 0, 0xff, 0xff}));
    }
  }
  EXPECT_EQ(inflate_raw(stream, data.size()), data);
}

TEST(DeflateRuns, CompressesLikeZlibRle) {
  // Within a few percent of zlib's own Z_RLE on the same data (each block here gets its own
  // optimal codes, as zlib's do).
  const std::vector<uint8_t> data = mixed(4 << 20, 5);
  const size_t ours = deflated(data).size();
  z_stream zs{};
  ASSERT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_RLE), Z_OK);
  std::vector<uint8_t> out(deflateBound(&zs, data.size()));
  zs.next_in = const_cast<uint8_t*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  const size_t theirs = zs.total_out;
  deflateEnd(&zs);
  EXPECT_LT(ours, theirs * 103 / 100) << "ours " << ours << ", zlib Z_RLE " << theirs;
  EXPECT_LT(ours, data.size() / 2) << "the runs were found";
}

}  // namespace
}  // namespace cutout
