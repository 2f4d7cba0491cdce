// IDX files (LeCun's MNIST format, also Fashion-MNIST), gzip-compressed or plain.
//
//   offset 0  magic: 0x00 0x00 type ndim   (type 0x08 = unsigned byte)
//   offset 4  ndim big-endian uint32 dimension sizes
//   then      the data, row-major, exactly the product of the dimensions in bytes
//
// Offsets in error messages count bytes of the uncompressed stream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qb {

struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;
};

// Reads an IDX file of unsigned bytes with exactly `ndim` dimensions.
IdxArray read_idx(const std::string& path, std::size_t ndim);

}  // namespace qb
