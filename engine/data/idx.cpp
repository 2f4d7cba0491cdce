#include "engine/data/idx.h"

#include "engine/check.h"
#include "engine/io/input_file.h"

#include <zlib.h>

#include <algorithm>
#include <memory>
#include <string>

namespace qb {
namespace {

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

// zlib's last error, without the file name it puts in front; Z_OK when there is none.
std::string zlib_error(gzFile f, const std::string& path, int& code) {
  const std::string msg = gzerror(f, &code);
  return msg.starts_with(path + ": ") ? msg.substr(path.size() + 2) : msg;
}

// Reads up to n bytes at uncompressed byte offset `at`; returns how many arrived (fewer only
// at the end of the stream). A damage is reported at the offset the data had reached.
std::size_t read_some(gzFile f, const std::string& path, std::uint8_t* dst, std::size_t n,
                      std::size_t at) {
  std::size_t got = 0;
  while (got < n) {
    const unsigned chunk = unsigned(std::min<std::size_t>(n - got, 1u << 30));
    const int r = gzread(f, dst + got, chunk);
    if (r < 0) {
      int code = 0;
      throw error(path, ": damaged compressed stream after byte offset ", at + got, " (",
                  zlib_error(f, path, code), ")");
    }
    if (r == 0) break;
    got += std::size_t(r);
  }
  return got;
}

}  // namespace

IdxArray read_idx(const std::string& path, std::size_t ndim) {
  check_input_file(path, "an IDX file");
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) throw error(path, ": cannot open");
  gzbuffer(f.get(), 1u << 17);

  std::uint8_t head[4];
  if (read_some(f.get(), path, head, 4, 0) != 4)
    throw error(path, ": truncated header: fewer than 4 bytes at byte offset 0");
  if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] != ndim)
    throw error(path, ": bad magic at byte offset 0: expected 00 00 08 0", ndim, ", got ",
                int(head[0]), " ", int(head[1]), " ", int(head[2]), " ", int(head[3]));
  IdxArray a;
  std::size_t count = 1;
  for (std::size_t d = 0; d < ndim; ++d) {
    std::uint8_t b[4];
    if (read_some(f.get(), path, b, 4, 4 + 4 * d) != 4)
      throw error(path, ": truncated header at byte offset ", 4 + 4 * d);
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
    const std::size_t arrived = read_some(f.get(), path, a.data.data() + got, want, start + got);
    got += arrived;
    if (arrived < want) break;
  }
  if (got != count)
    throw error(path, ": truncated: data ends at byte offset ", start + got, ", header promises ",
                start + count, " bytes");
  std::uint8_t extra;
  if (read_some(f.get(), path, &extra, 1, start + count) != 0)
    throw error(path, ": trailing bytes after the data at byte offset ", start + count);
  // gzread reports a gzip stream cut short (its CRC and length trailer missing) not as a
  // failed read but as the end of the data, with Z_BUF_ERROR left behind.
  int code = Z_OK;
  const std::string why = zlib_error(f.get(), path, code);
  if (code != Z_OK) throw error(path, ": truncated gzip stream (", why, ")");
  return a;
}

}  // namespace qb
