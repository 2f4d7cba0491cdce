#include "engine/io/gzip_reader.h"

#include "engine/check.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace qb {

namespace {
constexpr std::size_t kRawChunk = std::size_t(1) << 17;
}  // namespace

GzipReader::GzipReader(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw error(path, ": cannot open (", std::strerror(errno), ")");
  try {
    refill();
  } catch (...) {
    std::fclose(file_);
    throw;
  }
  gzip_ = z_.avail_in >= 2 && in_[0] == 0x1f && in_[1] == 0x8b;
  if (gzip_) {
    // 16 + MAX_WBITS: a gzip wrapper (header, CRC-32 and length trailer checked by zlib).
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {
      std::fclose(file_);
      throw error(path, ": cannot start decompression");
    }
    inflating_ = true;
  }
}

GzipReader::~GzipReader() {
  if (inflating_) inflateEnd(&z_);
  if (file_) std::fclose(file_);
}

bool GzipReader::refill() {
  // Unconsumed input moves to the front; new bytes follow it.
  const std::size_t keep = z_.avail_in;
  const std::size_t used = in_.size() - keep;
  if (keep > 0 && used > 0) std::memmove(in_.data(), in_.data() + used, keep);
  raw_before_in_ += used;
  in_.resize(keep + kRawChunk);
  const std::size_t got = std::fread(in_.data() + keep, 1, kRawChunk, file_);
  if (got < kRawChunk && std::ferror(file_))
    throw error(path_, ": cannot read (", std::strerror(errno), ")");
  in_.resize(keep + got);
  z_.next_in = in_.data();
  z_.avail_in = uInt(in_.size());
  return got > 0;
}

std::size_t GzipReader::read_plain(std::uint8_t* dst, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    if (z_.avail_in == 0 && !refill()) break;
    const std::size_t take = std::min<std::size_t>(n - got, z_.avail_in);
    std::memcpy(dst + got, z_.next_in, take);
    z_.next_in += take;
    z_.avail_in -= uInt(take);
    got += take;
  }
  delivered_ += got;
  return got;
}

std::size_t GzipReader::read(std::uint8_t* dst, std::size_t n) {
  if (!gzip_) return read_plain(dst, n);
  std::size_t got = 0;
  while (got < n && !done_) {
    if (z_.avail_in == 0 && !refill())
      throw error(path_, ": truncated gzip stream (unexpected end of file)");
    z_.next_out = dst + got;
    z_.avail_out = uInt(std::min<std::size_t>(n - got, std::size_t(1) << 30));
    const uInt room = z_.avail_out;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    got += room - z_.avail_out;
    delivered_ += room - z_.avail_out;
    if (rc == Z_STREAM_END) {
      // The member is complete and checked. Another may follow; anything else is damage.
      if (z_.avail_in == 0 && !refill()) {
        done_ = true;
        break;
      }
      if (z_.avail_in < 2) refill();
      if (z_.avail_in < 2 || z_.next_in[0] != 0x1f || z_.next_in[1] != 0x8b)
        throw error(path_, ": trailing bytes after the gzip stream at compressed byte offset ",
                    raw_before_in_ + std::uint64_t(z_.next_in - in_.data()));
      inflateReset(&z_);
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw error(path_, ": damaged compressed stream after byte offset ", delivered_, " (",
                  z_.msg ? z_.msg : zError(rc), ")");
    }
  }
  return got;
}

}  // namespace qb
