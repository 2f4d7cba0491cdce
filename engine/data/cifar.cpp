#include "engine/data/cifar.h"

#include "engine/check.h"
#include "engine/io/input_file.h"

#include <filesystem>
#include <fstream>
#include <iterator>

namespace qb {

void read_cifar_batch(const std::string& path, CifarBatch& out) {
  check_input_file(path, "a CIFAR-10 batch file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw error(path, ": cannot open");
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
  if (bytes.empty()) throw error(path, ": empty file");
  const std::size_t records = bytes.size() / kCifarRecordBytes;
  if (bytes.size() % kCifarRecordBytes != 0)
    throw error(path, ": truncated record at byte offset ", records * kCifarRecordBytes, " (",
                bytes.size() % kCifarRecordBytes, " of ", kCifarRecordBytes, " bytes)");
  for (std::size_t r = 0; r < records; ++r) {
    const std::uint8_t* rec = bytes.data() + r * kCifarRecordBytes;
    if (rec[0] > 9)
      throw error(path, ": label ", int(rec[0]), " out of range 0..9 at byte offset ",
                  r * kCifarRecordBytes);
    out.labels.push_back(rec[0]);
    out.pixels.insert(out.pixels.end(), rec + 1, rec + kCifarRecordBytes);
  }
}

}  // namespace qb
