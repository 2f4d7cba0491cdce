// Small RAII wrappers over the HDF5 C API: files, groups, tensors, strings, attributes.
//
// HDF5 types stay out of this header (ids are int64_t, which hid_t is in HDF5 1.10+), so code
// that stores things need not see hdf5.h. Every failure becomes a qb::Error naming the file
// and the object ("run.h5: /params/conv1.weight: cannot read (checksum mismatch?)"); HDF5's
// own error stack printing is switched off.
//
// Checksums everywhere. Files are written in HDF5's 1.10 format (superblock 3, version-2
// object headers, new-style groups), where every piece of metadata — superblock, object
// headers and the messages in them, link and attribute indices — carries a checksum libhdf5
// verifies before decoding it; float tensors and result columns add the Fletcher-32 filter on
// their data. Readers refuse the older, unchecksummed superblocks (0 and 1) before libhdf5
// parses anything: HDF5 1.10.8 decodes unchecksummed metadata as it finds it, and damaged
// headers in that format crash it inside its own code (tests/fuzz/regressions/hdf5-crashes:
// a use after free, an overread, a null dereference, a 4 GiB allocation). A damaged byte in
// metadata now fails its checksum and the file is refused in one line. What checksums cannot
// stop is a file crafted with valid checksums around malformed metadata: qbench's files are
// not a security boundary, and neither is libhdf5.
#pragma once

#include "engine/io/atomic_file.h"
#include "engine/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qb::h5 {

// An owned HDF5 identifier, closed with the matching H5?close on destruction.
class Id {
 public:
  enum class Kind { file, group, dataset, dataspace, datatype, attribute, plist };
  Id() = default;
  Id(std::int64_t id, Kind kind) : id_(id), kind_(kind) {}
  Id(Id&& o) noexcept : id_(o.id_), kind_(o.kind_) { o.id_ = -1; }
  Id& operator=(Id&& o) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }
  void reset();
  void release() { id_ = -1; }  // forget without closing
  std::int64_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }

 private:
  std::int64_t id_ = -1;
  Kind kind_ = Kind::file;
};

class Group {
 public:
  Group(std::int64_t id, Id::Kind kind, std::string file, std::string path)
      : id_(id, kind), file_(std::move(file)), path_(std::move(path)) {}

  Group create_group(const std::string& name);
  Group open_group(const std::string& name) const;
  bool has(const std::string& name) const;
  bool is_group(const std::string& name) const;
  std::vector<std::string> children() const;  // names in creation-independent (name) order

  void write(const std::string& name, const Tensor& t);  // float32; 0-d and empty allowed
  Tensor read_tensor(const std::string& name) const;
  void write(const std::string& name, const std::string& s);
  std::string read_string(const std::string& name) const;
  void write(const std::string& name, double v);  // a 0-d float64 dataset
  double read_double(const std::string& name) const;

  // 1-D columns (result tables): float64 and int64 with checksums, fixed-length strings
  // (NUL-padded to the longest; h5py reads them as bytes).
  void write_doubles(const std::string& name, const std::vector<double>& v);
  std::vector<double> read_doubles(const std::string& name) const;
  void write_ints(const std::string& name, const std::vector<std::int64_t>& v);
  void write_strings(const std::string& name, const std::vector<std::string>& v);
  std::vector<std::string> read_strings(const std::string& name) const;

  // Copies group `src` (of any open file; "." for src itself) with everything below it,
  // attributes included, to `name` in this group.
  void copy_from(const Group& src, const std::string& name);
  // Recreates everything in `src` — its attributes, and its members with all below them —
  // in this group, object by object, so that all of it takes this file's format (H5Ocopy
  // would keep the source's object headers).
  void copy_contents_from(const Group& src);

  void set_attr(const std::string& name, std::int64_t v);
  void set_attr(const std::string& name, const std::string& v);
  bool has_attr(const std::string& name) const;
  std::int64_t attr_int(const std::string& name) const;
  std::string attr_string(const std::string& name) const;

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  std::string where(const std::string& name) const;  // "file: /path/name"
  Id id_;
  std::string file_, path_;
};

class File {
 public:
  static File create(const std::string& path);  // truncates; the checksummed format
  // Refuses up front what is not a file, not HDF5, or HDF5 without metadata checksums.
  static File open_read(const std::string& path);
  // Rewrites `path`, an HDF5 file in a format without metadata checksums (what qbench wrote
  // before), in the checksummed format, atomically; false when it already is in it.
  static bool upgrade(const std::string& path);
  Group root() const;
  void flush();
  void close();
  const std::string& path() const { return path_; }

 private:
  File(Id id, std::string path) : id_(std::move(id)), path_(std::move(path)) {}
  static File open(const std::string& path, bool any_format);
  Id id_;
  std::string path_;
};

// The superblock version of the HDF5 file at `path` (the byte after the signature at offset
// 0), or -1 when the file does not start with the 8-byte HDF5 signature.
int superblock_version(const std::string& path);
// The superblock version of the format qbench writes (HDF5 1.10); readers refuse older ones.
inline constexpr int kSuperblockVersion = 3;

// Writes `write_fn(file)` to a new HDF5 file that replaces `path` atomically
// (engine/io/atomic_file.h): readers see the old file or the complete new one, never a
// half-written one.
template <class F>
void write_atomically(const std::string& path, F&& write_fn) {
  write_file_atomically(path, [&](const std::string& partial) {
    File f = File::create(partial);
    write_fn(f);
    f.flush();
    f.close();
  });
}

}  // namespace qb::h5
