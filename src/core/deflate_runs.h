// Our own deflate (RFC 1951) for the one kind of matching the PNG writer uses on large images:
// runs, i.e. matches at distance 1, what zlib's Z_RLE strategy finds. zlib codes each 16 Ki
// symbols as a block through a 16-bit bit buffer and builds its trees as it goes; here the runs
// are found word-wise, each block of kBlockTokens tokens gets its dynamic Huffman codes, and
// the bits go out through a 64-bit buffer. The format is plain deflate: any inflater reads it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cutout {

// Appends the raw deflate blocks of data[0, n) to out. Matches never reach before `data`, so the
// piece can follow any other deflate data. final: the last block is marked final and the stream
// padded to a byte; otherwise the piece ends on a byte boundary with an empty stored block (as
// zlib's Z_SYNC_FLUSH), so that further pieces can be appended.
void deflate_runs(const uint8_t* data, size_t n, bool final, std::vector<uint8_t>& out);

}  // namespace cutout
