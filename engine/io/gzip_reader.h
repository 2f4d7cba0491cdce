// A file read whole, gzip-compressed or plain (its first two bytes decide, as gzip(1) does),
// with every damage reported in one line naming the file.
//
// zlib's gzread is not used: it returns the data of a stream whose trailer (CRC and length) is
// cut off as if it were complete, reporting the cut only softly afterwards, and it skips
// whatever follows the last gzip member without a word. Here inflate runs directly: a stream
// cut anywhere is "truncated", a CRC or length mismatch is "damaged", and bytes after the last
// member that do not start another member are "trailing bytes". Concatenated members (valid
// gzip) are read in sequence.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace qb {

class GzipReader {
 public:
  explicit GzipReader(const std::string& path);  // the caller has run check_input_file
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Reads up to n bytes; fewer only at the end of the data. Offsets in its errors count
  // uncompressed bytes.
  std::size_t read(std::uint8_t* dst, std::size_t n);

 private:
  bool refill();  // more raw bytes into in_; false at the end of the file
  std::size_t read_plain(std::uint8_t* dst, std::size_t n);

  std::string path_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false, inflating_ = false, done_ = false;
  z_stream z_{};
  std::vector<unsigned char> in_;
  std::uint64_t delivered_ = 0;      // uncompressed bytes returned so far
  std::uint64_t raw_before_in_ = 0;  // file offset of in_[0]
};

}  // namespace qb
