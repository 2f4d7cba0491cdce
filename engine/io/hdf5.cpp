#include "engine/io/hdf5.h"

#include "engine/check.h"
#include "engine/io/input_file.h"

#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace qb::h5 {
namespace {

static_assert(sizeof(hid_t) == sizeof(std::int64_t), "hid_t must be 64-bit (HDF5 >= 1.10)");

// HDF5 prints its error stack to stderr by default; qbench reports one line instead.
const bool kSilenced = [] {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return true;
}();

std::int64_t check(std::int64_t id, const std::string& where, const char* what) {
  if (id < 0) throw error(where, ": ", what);
  return id;
}

void check_status(herr_t s, const std::string& where, const char* what) {
  if (s < 0) throw error(where, ": ", what);
}

// An owned identifier from a creating or opening call, or a qb::Error naming `where`.
Id checked(std::int64_t id, Id::Kind kind, const std::string& where, const char* what) {
  return Id(check(id, where, what), kind);
}

Id scalar_or_simple_space(const Shape& shape, const std::string& where) {
  if (shape.empty())
    return checked(H5Screate(H5S_SCALAR), Id::Kind::dataspace, where, "cannot create dataspace");
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return checked(H5Screate_simple(int(dims.size()), dims.data(), nullptr), Id::Kind::dataspace,
                 where, "cannot create dataspace");
}

Id property_list(hid_t cls, const std::string& where) {
  return checked(H5Pcreate(cls), Id::Kind::plist, where, "cannot create property list");
}

// Link creation that makes missing parent groups ("weights/momentum/x" creates both levels).
Id intermediate_lcpl(const std::string& where) {
  Id p = property_list(H5P_LINK_CREATE, where);
  check_status(H5Pset_create_intermediate_group(p.get(), 1), where,
               "cannot set intermediate group creation");
  return p;
}

// A fixed-length string type of `width` bytes (at least 1: HDF5 refuses 0).
Id fixed_string_type(std::size_t width, H5T_str_t pad, const std::string& where) {
  Id type = checked(H5Tcopy(H5T_C_S1), Id::Kind::datatype, where, "cannot create string type");
  check_status(H5Tset_size(type.get(), std::max<std::size_t>(width, 1)), where,
               "cannot set string size");
  check_status(H5Tset_strpad(type.get(), pad), where, "cannot set string padding");
  return type;
}

bool link_exists(hid_t loc, const std::string& name) {
  // H5Lexists fails on a missing intermediate component: test each prefix.
  std::size_t pos = 0;
  while (true) {
    pos = name.find('/', pos + 1);
    const std::string prefix = name.substr(0, pos);
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

// What every reader does first: find the dataset, open it, get its file type and extent.
struct OpenDataset {
  Id id, type;
  std::vector<hsize_t> dims;  // empty for a scalar

  std::size_t count() const {
    std::size_t n = 1;
    for (hsize_t d : dims) n *= std::size_t(d);
    return n;
  }
};

// qbench stores a non-empty dataset as one chunk exactly its shape, checksummed (Fletcher-32,
// its only filter), and everything else contiguous and unfiltered (Group::write,
// create_column). HDF5 1.10 trusts a damaged chunk shape larger than the dataset and reads
// past its buffers (found by fuzz_checkpoint, tests/fuzz/regressions/checkpoint/): any other
// chunking or filter is refused before a read.
void check_storage_as_written(hid_t dcpl, H5D_layout_t layout, const std::vector<hsize_t>& dims,
                              const std::string& where) {
  const int filters = H5Pget_nfilters(dcpl);
  if (layout == H5D_CONTIGUOUS) {
    if (filters != 0) throw error(where, ": damaged (a filter qbench never writes)");
    return;
  }
  hsize_t chunk[8] = {};
  if (H5Pget_chunk(dcpl, 8, chunk) != int(dims.size()) ||
      !std::equal(dims.begin(), dims.end(), chunk))
    throw error(where, ": damaged (a chunk shape qbench never writes)");
  unsigned flags = 0;
  std::size_t values = 0;
  if (filters != 1 || H5Pget_filter2(dcpl, 0, &flags, &values, nullptr, 0, nullptr, nullptr) !=
                          H5Z_FILTER_FLETCHER32)
    throw error(where, ": damaged (a filter qbench never writes)");
}

OpenDataset open_dataset(hid_t loc, const std::string& name, const std::string& where) {
  if (!link_exists(loc, name)) throw error(where, ": dataset not found");
  OpenDataset d;
  d.id = checked(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), Id::Kind::dataset, where,
                 "cannot open dataset");
  // qbench writes chunked (tensors, columns) and contiguous (scalars, strings) datasets, never
  // compact ones. HDF5 1.10 trusts a compact dataset's stored size against its dataspace and
  // reads past its own buffer when they disagree (found by fuzz_checkpoint): refused here.
  Id dcpl = checked(H5Dget_create_plist(d.id.get()), Id::Kind::plist, where,
                    "cannot read the dataset's layout");
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout != H5D_CHUNKED && layout != H5D_CONTIGUOUS)
    throw error(where, ": damaged (a dataset layout qbench never writes)");
  d.type = checked(H5Dget_type(d.id.get()), Id::Kind::datatype, where, "cannot read type");
  Id space = checked(H5Dget_space(d.id.get()), Id::Kind::dataspace, where, "cannot read shape");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) throw error(where, ": bad rank ", rank);
  d.dims.assign(std::size_t(rank), 0);
  if (rank > 0)
    check_status(H5Sget_simple_extent_dims(space.get(), d.dims.data(), nullptr), where,
                 "cannot read shape");
  check_storage_as_written(dcpl.get(), layout, d.dims, where);
  return d;
}

// H5Aread writes every element of an attribute: reading an array attribute into one value
// would write past it.
void require_one_value(hid_t attribute, const std::string& where) {
  Id space = checked(H5Aget_space(attribute), Id::Kind::dataspace, where, "cannot read shape");
  if (H5Sget_simple_extent_npoints(space.get()) != 1) throw error(where, ": not a single value");
}

bool is_fixed_string(const OpenDataset& d) {
  return H5Tget_class(d.type.get()) == H5T_STRING && H5Tis_variable_str(d.type.get()) <= 0;
}

// A damaged file may claim any shape or string width. qbench never compresses, so a dataset
// cannot hold more bytes than its file: a larger claim is refused before anything is
// allocated for it (products checked for overflow).
void check_fits_file(const OpenDataset& d, std::size_t element_bytes, const std::string& where) {
  hsize_t file_bytes = 0;
  const hid_t f = H5Iget_file_id(d.id.get());
  const bool ok = f >= 0 && H5Fget_filesize(f, &file_bytes) >= 0;
  if (f >= 0) H5Fclose(f);
  if (!ok) throw error(where, ": cannot read the file size");
  std::uint64_t total = element_bytes;
  bool fits = total <= file_bytes;
  for (hsize_t dim : d.dims) {
    if (!fits || total == 0) break;
    fits = dim <= file_bytes / total;
    total *= dim;
  }
  if (!fits) throw error(where, ": shape or type larger than the file (damaged)");
}

// Reads the whole dataset into `buf` as `mem_type` (nothing to read when it is empty).
void read_all(const OpenDataset& d, hid_t mem_type, void* buf, const std::string& where) {
  // qbench writes every element (and compresses nothing), so a dataset stores at least its
  // shape × its type's size. HDF5 1.10 does not check a damaged layout's size against the
  // shape and reads past its own buffers (found by fuzz_checkpoint): refused first.
  const std::uint64_t need = std::uint64_t(d.count()) * H5Tget_size(d.type.get());
  if (d.count() > 0 && H5Dget_storage_size(d.id.get()) < need)
    throw error(where, ": damaged (stores fewer bytes than its shape needs)");
  if (d.count() > 0 && H5Dread(d.id.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    throw error(where, ": cannot read (damaged data or checksum mismatch)");
}

// Fixed-length strings of `width` bytes, back to back, each cut at its first NUL.
std::vector<std::string> split_strings(const std::string& buf, std::size_t width) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at + width <= buf.size() && width > 0; at += width) {
    std::string s = buf.substr(at, width);
    s.resize(std::strlen(s.c_str()));
    out.push_back(s);
  }
  return out;
}

}  // namespace

Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    kind_ = o.kind_;
    o.id_ = -1;
  }
  return *this;
}

void Id::reset() {
  if (id_ < 0) return;
  switch (kind_) {
    case Kind::file:
      H5Fclose(id_);
      break;
    case Kind::group:
      H5Gclose(id_);
      break;
    case Kind::dataset:
      H5Dclose(id_);
      break;
    case Kind::dataspace:
      H5Sclose(id_);
      break;
    case Kind::datatype:
      H5Tclose(id_);
      break;
    case Kind::attribute:
      H5Aclose(id_);
      break;
    case Kind::plist:
      H5Pclose(id_);
      break;
  }
  id_ = -1;
}

std::string Group::where(const std::string& name) const {
  return file_ + ": " + (path_ == "/" ? "/" : path_ + "/") + name;
}

Group Group::create_group(const std::string& name) {
  Id lcpl = intermediate_lcpl(where(name));
  const hid_t g = check(H5Gcreate2(id_.get(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                        where(name), "cannot create group");
  return Group(g, Id::Kind::group, file_, path_ == "/" ? "/" + name : path_ + "/" + name);
}

Group Group::open_group(const std::string& name) const {
  if (!has(name)) throw error(where(name), ": group not found");
  const hid_t g =
      check(H5Gopen2(id_.get(), name.c_str(), H5P_DEFAULT), where(name), "cannot open group");
  return Group(g, Id::Kind::group, file_, path_ == "/" ? "/" + name : path_ + "/" + name);
}

bool Group::has(const std::string& name) const { return link_exists(id_.get(), name); }

bool Group::is_group(const std::string& name) const {
  H5O_info_t info;
  if (H5Oget_info_by_name(id_.get(), name.c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> out;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  check_status(H5Literate(id_.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &out), where(""),
               "cannot list group");
  // A damaged file may hold a link with an empty name (or "."), which names the group itself:
  // opened as a dataset, HDF5 1.10 reads past its own buffers (found by fuzz_checkpoint).
  for (const auto& name : out)
    if (name.empty() || name == "." || name.find('/') != std::string::npos)
      throw error(where(""), ": damaged (a link named '", name, "')");
  return out;
}

void Group::write(const std::string& name, const Tensor& t) {
  const std::string at = where(name);
  const Shape shape = shape_of(t);
  Id space = scalar_or_simple_space(shape, at);
  Id dcpl = property_list(H5P_DATASET_CREATE, at);
  if (!shape.empty() && t.size() > 0) {  // chunking (and so checksums) needs a non-empty shape
    std::vector<hsize_t> chunk(shape.begin(), shape.end());
    check_status(H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()), at,
                 "cannot set chunking");
    check_status(H5Pset_fletcher32(dcpl.get()), at, "cannot enable checksums");
  }
  Id lcpl = intermediate_lcpl(at);
  Id ds = checked(H5Dcreate2(id_.get(), name.c_str(), H5T_IEEE_F32LE, space.get(), lcpl.get(),
                             dcpl.get(), H5P_DEFAULT),
                  Id::Kind::dataset, at, "cannot create dataset");
  if (t.size() > 0)
    check_status(H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()), at,
                 "cannot write");
}

Tensor Group::read_tensor(const std::string& name) const {
  const std::string at = where(name);
  const OpenDataset d = open_dataset(id_.get(), name, at);
  if (H5Tget_class(d.type.get()) != H5T_FLOAT) throw error(at, ": not a float dataset");
  check_fits_file(d, H5Tget_size(d.type.get()), at);
  Tensor t = Tensor::from_shape(Shape(d.dims.begin(), d.dims.end()));
  read_all(d, H5T_NATIVE_FLOAT, t.data(), at);
  return t;
}

void Group::write(const std::string& name, const std::string& s) {
  const std::string at = where(name);
  Id type = fixed_string_type(s.size(), H5T_STR_NULLPAD, at);
  Id space = scalar_or_simple_space({}, at);
  Id lcpl = intermediate_lcpl(at);
  Id ds = checked(H5Dcreate2(id_.get(), name.c_str(), type.get(), space.get(), lcpl.get(),
                             H5P_DEFAULT, H5P_DEFAULT),
                  Id::Kind::dataset, at, "cannot create string");
  std::string padded = s;
  padded.resize(std::max<std::size_t>(s.size(), 1), '\0');
  check_status(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, padded.data()), at,
               "cannot write string");
}

std::string Group::read_string(const std::string& name) const {
  const std::string at = where(name);
  const OpenDataset d = open_dataset(id_.get(), name, at);
  if (!is_fixed_string(d) || d.count() != 1) throw error(at, ": not a fixed-length string");
  check_fits_file(d, H5Tget_size(d.type.get()), at);
  std::string s(H5Tget_size(d.type.get()), '\0');
  read_all(d, d.type.get(), s.data(), at);
  s.resize(std::strlen(s.c_str()));
  return s;
}

void Group::write(const std::string& name, double v) {
  const std::string at = where(name);
  Id space = scalar_or_simple_space({}, at);
  Id lcpl = intermediate_lcpl(at);
  Id ds = checked(H5Dcreate2(id_.get(), name.c_str(), H5T_IEEE_F64LE, space.get(), lcpl.get(),
                             H5P_DEFAULT, H5P_DEFAULT),
                  Id::Kind::dataset, at, "cannot create scalar");
  check_status(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v), at,
               "cannot write scalar");
}

double Group::read_double(const std::string& name) const {
  const std::string at = where(name);
  const OpenDataset d = open_dataset(id_.get(), name, at);
  if (d.count() != 1) throw error(at, ": not a scalar");
  double v = 0;
  read_all(d, H5T_NATIVE_DOUBLE, &v, at);
  return v;
}

namespace {
// A 1-D dataset of `n` elements of `file_type`, chunked with checksums when non-empty.
Id create_column(hid_t loc, const std::string& name, hid_t file_type, std::size_t n,
                 const std::string& at) {
  const hsize_t dims[1] = {hsize_t(n)};
  Id space = checked(H5Screate_simple(1, dims, nullptr), Id::Kind::dataspace, at,
                     "cannot create dataspace");
  Id dcpl = property_list(H5P_DATASET_CREATE, at);
  if (n > 0) {
    check_status(H5Pset_chunk(dcpl.get(), 1, dims), at, "cannot set chunking");
    check_status(H5Pset_fletcher32(dcpl.get()), at, "cannot enable checksums");
  }
  Id lcpl = intermediate_lcpl(at);
  return checked(
      H5Dcreate2(loc, name.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
      Id::Kind::dataset, at, "cannot create dataset");
}
}  // namespace

void Group::write_doubles(const std::string& name, const std::vector<double>& v) {
  Id ds = create_column(id_.get(), name, H5T_IEEE_F64LE, v.size(), where(name));
  if (!v.empty())
    check_status(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
                 where(name), "cannot write");
}

std::vector<double> Group::read_doubles(const std::string& name) const {
  const std::string at = where(name);
  const OpenDataset d = open_dataset(id_.get(), name, at);
  if (d.dims.size() != 1) throw error(at, ": not 1-D");
  check_fits_file(d, std::min<std::size_t>(H5Tget_size(d.type.get()), sizeof(double)), at);
  std::vector<double> v(d.count());
  read_all(d, H5T_NATIVE_DOUBLE, v.data(), at);
  return v;
}

void Group::write_ints(const std::string& name, const std::vector<std::int64_t>& v) {
  Id ds = create_column(id_.get(), name, H5T_STD_I64LE, v.size(), where(name));
  if (!v.empty())
    check_status(H5Dwrite(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
                 where(name), "cannot write");
}

void Group::write_strings(const std::string& name, const std::vector<std::string>& v) {
  std::size_t width = 1;
  for (const auto& s : v) width = std::max(width, s.size());
  Id type = fixed_string_type(width, H5T_STR_NULLPAD, where(name));
  Id ds = create_column(id_.get(), name, type.get(), v.size(), where(name));
  std::string buf(width * v.size(), '\0');
  for (std::size_t i = 0; i < v.size(); ++i)
    std::copy(v[i].begin(), v[i].end(), buf.begin() + std::ptrdiff_t(i * width));
  if (!v.empty())
    check_status(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
                 where(name), "cannot write");
}

std::vector<std::string> Group::read_strings(const std::string& name) const {
  const std::string at = where(name);
  const OpenDataset d = open_dataset(id_.get(), name, at);
  if (!is_fixed_string(d)) throw error(at, ": not fixed-length strings");
  const std::size_t width = H5Tget_size(d.type.get());
  check_fits_file(d, width, at);
  std::string buf(width * d.count(), '\0');
  read_all(d, d.type.get(), buf.data(), at);
  return split_strings(buf, width);
}

void Group::copy_from(const Group& src, const std::string& name) {
  Id lcpl = intermediate_lcpl(where(name));
  check_status(H5Ocopy(src.id_.get(), ".", id_.get(), name.c_str(), H5P_DEFAULT, lcpl.get()),
               where(name), "cannot copy group");
}

namespace {

// Copies every attribute of object `src` to object `dst` (`at`: dst's name for messages).
void copy_attributes(hid_t src, hid_t dst, const std::string& at) {
  H5O_info_t info;
  check_status(H5Oget_info(src, &info), at, "cannot read the source's attribute count");
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    Id a =
        checked(H5Aopen_by_idx(src, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
                Id::Kind::attribute, at, "cannot open a source attribute");
    char name[256] = {};
    if (H5Aget_name(a.get(), sizeof name, name) >= ssize_t(sizeof name))
      throw error(at, ": attribute name too long");
    const std::string where = at + "@" + name;
    Id type = checked(H5Aget_type(a.get()), Id::Kind::datatype, where, "cannot read type");
    Id space = checked(H5Aget_space(a.get()), Id::Kind::dataspace, where, "cannot read extent");
    if (H5Tdetect_class(type.get(), H5T_VLEN) != 0 || H5Tis_variable_str(type.get()) != 0)
      throw error(where, ": variable-length data (qbench never writes it)");
    std::vector<char> value(H5Aget_storage_size(a.get()));
    check_status(H5Aread(a.get(), type.get(), value.data()), where, "cannot read");
    Id copy = checked(H5Acreate2(dst, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                      Id::Kind::attribute, where, "cannot create");
    check_status(H5Awrite(copy.get(), type.get(), value.data()), where, "cannot write");
  }
}

// Recreates dataset `name` of `src` in `dst`: same type, extent, storage (chunking, filters)
// and bytes.
void copy_dataset(hid_t src, hid_t dst, const std::string& name, const std::string& at) {
  Id from = checked(H5Dopen2(src, name.c_str(), H5P_DEFAULT), Id::Kind::dataset, at,
                    "cannot open the source");
  Id type = checked(H5Dget_type(from.get()), Id::Kind::datatype, at, "cannot read type");
  Id space = checked(H5Dget_space(from.get()), Id::Kind::dataspace, at, "cannot read extent");
  Id dcpl = checked(H5Dget_create_plist(from.get()), Id::Kind::plist, at, "cannot read storage");
  if (H5Tdetect_class(type.get(), H5T_VLEN) != 0 || H5Tis_variable_str(type.get()) != 0)
    throw error(at, ": variable-length data (qbench never writes it)");
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  if (points < 0) throw error(at, ": cannot read extent");
  std::vector<char> bytes(std::size_t(points) * H5Tget_size(type.get()));
  if (points > 0)
    check_status(H5Dread(from.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), at,
                 "cannot read");
  Id to = checked(
      H5Dcreate2(dst, name.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      Id::Kind::dataset, at, "cannot create");
  if (points > 0)
    check_status(H5Dwrite(to.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), at,
                 "cannot write");
  copy_attributes(from.get(), to.get(), at);
}

}  // namespace

void Group::copy_contents_from(const Group& src) {
  copy_attributes(src.id_.get(), id_.get(), where(""));
  for (const std::string& name : src.children()) {
    H5O_info_t info;
    check_status(H5Oget_info_by_name(src.id_.get(), name.c_str(), &info, H5P_DEFAULT),
                 src.where(name), "cannot read the object's kind");
    if (info.type == H5O_TYPE_GROUP)
      create_group(name).copy_contents_from(src.open_group(name));
    else if (info.type == H5O_TYPE_DATASET)
      copy_dataset(src.id_.get(), id_.get(), name, where(name));
    else
      throw error(src.where(name), ": neither a group nor a dataset (qbench writes no other)");
  }
}

void Group::set_attr(const std::string& name, std::int64_t v) {
  const std::string at = where("@" + name);
  Id space = scalar_or_simple_space({}, at);
  Id a = checked(
      H5Acreate2(id_.get(), name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      Id::Kind::attribute, at, "cannot create attribute");
  check_status(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), at, "cannot write");
}

void Group::set_attr(const std::string& name, const std::string& v) {
  const std::string at = where("@" + name);
  // NUL-terminated (H5T_C_S1's own padding), unlike the NUL-padded string datasets.
  Id type = fixed_string_type(v.size(), H5T_STR_NULLTERM, at);
  Id space = scalar_or_simple_space({}, at);
  Id a = checked(
      H5Acreate2(id_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
      Id::Kind::attribute, at, "cannot create attribute");
  std::string padded = v;
  padded.resize(std::max<std::size_t>(v.size(), 1), '\0');
  check_status(H5Awrite(a.get(), type.get(), padded.data()), at, "cannot write");
}

bool Group::has_attr(const std::string& name) const {
  return H5Aexists(id_.get(), name.c_str()) > 0;
}

std::int64_t Group::attr_int(const std::string& name) const {
  const std::string at = where("@" + name);
  if (!has_attr(name)) throw error(at, ": attribute not found");
  Id a = checked(H5Aopen(id_.get(), name.c_str(), H5P_DEFAULT), Id::Kind::attribute, at,
                 "cannot open");
  require_one_value(a.get(), at);
  std::int64_t v = 0;
  check_status(H5Aread(a.get(), H5T_NATIVE_INT64, &v), at, "not an integer");
  return v;
}

std::string Group::attr_string(const std::string& name) const {
  const std::string at = where("@" + name);
  if (!has_attr(name)) throw error(at, ": attribute not found");
  Id a = checked(H5Aopen(id_.get(), name.c_str(), H5P_DEFAULT), Id::Kind::attribute, at,
                 "cannot open");
  Id type = checked(H5Aget_type(a.get()), Id::Kind::datatype, at, "cannot read type");
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) != 0)
    throw error(at, ": not a fixed-length string");
  require_one_value(a.get(), at);
  // Attributes live in object headers (64 KiB at most in the formats qbench writes).
  if (H5Tget_size(type.get()) > (std::size_t(1) << 16)) throw error(at, ": string too long");
  std::string s(H5Tget_size(type.get()), '\0');
  check_status(H5Aread(a.get(), type.get(), s.data()), at, "cannot read");
  s.resize(std::strlen(s.c_str()));
  return s;
}

File File::create(const std::string& path) {
  (void)kSilenced;
  // The HDF5 1.10 format for everything, oldest features included: superblock 3, version-2
  // object headers, new-style groups, checksummed indices (the header comment says why).
  Id fapl = property_list(H5P_FILE_ACCESS, path);
  check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110), path,
               "cannot select the HDF5 1.10 file format");
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (f < 0) throw error(path, ": cannot create HDF5 file (folder missing or not writable?)");
  return File(Id(f, Id::Kind::file), path);
}

File File::open_read(const std::string& path) { return open(path, /*any_format=*/false); }

File File::open(const std::string& path, bool any_format) {
  (void)kSilenced;
  if (!std::filesystem::exists(path)) throw error(path, ": file not found");
  check_input_file(path, "an HDF5 file");
  const int version = superblock_version(path);
  if (version < 0) throw error(path, ": not an HDF5 file (no HDF5 signature at byte offset 0)");
  if (version < kSuperblockVersion && !any_format)
    throw error(path, ": HDF5 superblock version ", version,
                " (byte offset 8): an older format without metadata checksums; qbench reads only "
                "the checksummed one it writes, superblock ",
                kSuperblockVersion,
                " (`qbench h5-upgrade FILE` rewrites a file from an older qbench in it)");
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw error(path, ": not a readable HDF5 file (truncated or damaged)");
  return File(Id(f, Id::Kind::file), path);
}

bool File::upgrade(const std::string& path) {
  const File old = open(path, /*any_format=*/true);
  if (superblock_version(path) >= kSuperblockVersion) return false;
  const Group from = old.root();
  write_atomically(path, [&](File& f) { f.root().copy_contents_from(from); });
  return true;
}

Group File::root() const {
  const hid_t g = check(H5Gopen2(id_.get(), "/", H5P_DEFAULT), path_, "cannot open root group");
  return Group(g, Id::Kind::group, path_, "/");
}

void File::flush() { check_status(H5Fflush(id_.get(), H5F_SCOPE_GLOBAL), path_, "cannot flush"); }

void File::close() {
  if (!id_) return;
  const herr_t status = H5Fclose(id_.get());
  id_.release();  // closed (or unclosable): never close it again
  if (status < 0) throw error(path_, ": cannot close");
}

int superblock_version(const std::string& path) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  std::ifstream in(path, std::ios::binary);
  unsigned char head[9] = {};
  if (!in.read(reinterpret_cast<char*>(head), 9) || !std::equal(head, head + 8, sig)) return -1;
  return head[8];
}

}  // namespace qb::h5
