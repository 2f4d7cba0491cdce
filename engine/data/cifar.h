// CIFAR-10 binary batches: records of 3,073 bytes — one label byte (0..9), then 3,072 pixel
// bytes: the red, green and blue 32×32 planes, row-major.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qb {

constexpr std::size_t kCifarRecordBytes = 1 + 3 * 32 * 32;

struct CifarBatch {
  std::vector<std::uint8_t> pixels;  // N × 3072, CHW per image
  std::vector<std::uint8_t> labels;
};

// Appends the records of one batch file to `out`.
void read_cifar_batch(const std::string& path, CifarBatch& out);

}  // namespace qb
