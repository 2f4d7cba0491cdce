#include "engine/data/idx.h"

#include "engine/check.h"
#include "engine/io/gzip_reader.h"
#include "engine/io/input_file.h"

#include <algorithm>
#include <string>

namespace qb {

IdxArray read_idx(const std::string& path, std::size_t ndim) {
  check_input_file(path, "an IDX file");
  GzipReader f(path);

  std::uint8_t head[4];
  if (f.read(head, 4) != 4)
    throw error(path, ": truncated header: fewer than 4 bytes at byte offset 0");
  if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] != ndim)
    throw error(path, ": bad magic at byte offset 0: expected 00 00 08 0", ndim, ", got ",
                int(head[0]), " ", int(head[1]), " ", int(head[2]), " ", int(head[3]));
  IdxArray a;
  std::size_t count = 1;
  for (std::size_t d = 0; d < ndim; ++d) {
    std::uint8_t b[4];
    if (f.read(b, 4) != 4) throw error(path, ": truncated header at byte offset ", 4 + 4 * d);
    const std::uint32_t v =
        std::uint32_t(b[0]) << 24 | std::uint32_t(b[1]) << 16 | std::uint32_t(b[2]) << 8 | b[3];
    if (v == 0 || v > (1u << 28))
      throw error(path, ": implausible dimension ", v, " at byte offset ", 4 + 4 * d);
    a.dims.push_back(v);
    count *= v;
    if (count > (std::size_t(1) << 34)) throw error(path, ": header describes over 16 GiB of data");
  }
  const std::size_t start = 4 + 4 * ndim;
  // The header is believed only as far as the data goes: the buffer grows with what arrives,
  // so a damaged header that promises gigabytes costs no more memory than the file delivers.
  constexpr std::size_t kChunk = std::size_t(1) << 24;
  std::size_t got = 0;
  while (got < count) {
    const std::size_t want = std::min(count - got, kChunk);
    a.data.resize(got + want);
    const std::size_t arrived = f.read(a.data.data() + got, want);
    got += arrived;
    if (arrived < want) break;
  }
  if (got != count)
    throw error(path, ": truncated: data ends at byte offset ", start + got, ", header promises ",
                start + count, " bytes");
  std::uint8_t extra;
  if (f.read(&extra, 1) != 0)
    throw error(path, ": trailing bytes after the data at byte offset ", start + count);
  return a;
}

}  // namespace qb
