#include "engine/io/hdf5.h"

#include "engine/check.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
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

Id scalar_or_simple_space(const Shape& shape) {
  if (shape.empty()) return Id(H5Screate(H5S_SCALAR), Id::Kind::dataspace);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return Id(H5Screate_simple(int(dims.size()), dims.data(), nullptr), Id::Kind::dataspace);
}

// Link creation that makes missing parent groups ("weights/momentum/x" creates both levels).
Id intermediate_lcpl() {
  Id p(H5Pcreate(H5P_LINK_CREATE), Id::Kind::plist);
  H5Pset_create_intermediate_group(p.get(), 1);
  return p;
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
    case Kind::file: H5Fclose(id_); break;
    case Kind::group: H5Gclose(id_); break;
    case Kind::dataset: H5Dclose(id_); break;
    case Kind::dataspace: H5Sclose(id_); break;
    case Kind::datatype: H5Tclose(id_); break;
    case Kind::attribute: H5Aclose(id_); break;
    case Kind::plist: H5Pclose(id_); break;
  }
  id_ = -1;
}

std::string Group::where(const std::string& name) const {
  return file_ + ": " + (path_ == "/" ? "/" : path_ + "/") + name;
}

Group Group::create_group(const std::string& name) {
  Id lcpl = intermediate_lcpl();
  const hid_t g = check(H5Gcreate2(id_.get(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                        where(name), "cannot create group");
  return Group(g, Id::Kind::group, file_, path_ == "/" ? "/" + name : path_ + "/" + name);
}

Group Group::open_group(const std::string& name) const {
  if (!has(name)) throw error(where(name), ": group not found");
  const hid_t g = check(H5Gopen2(id_.get(), name.c_str(), H5P_DEFAULT), where(name),
                        "cannot open group");
  return Group(g, Id::Kind::group, file_, path_ == "/" ? "/" + name : path_ + "/" + name);
}

bool Group::has(const std::string& name) const {
  // H5Lexists fails on a missing intermediate component: test each prefix.
  std::size_t pos = 0;
  while (true) {
    pos = name.find('/', pos + 1);
    const std::string prefix = name.substr(0, pos);
    if (H5Lexists(id_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

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
  check_status(H5Literate(id_.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &out),
               where(""), "cannot list group");
  return out;
}

void Group::write(const std::string& name, const Tensor& t) {
  const Shape shape = shape_of(t);
  Id space = scalar_or_simple_space(shape);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), Id::Kind::plist);
  if (!shape.empty() && t.size() > 0) {  // chunking (and so checksums) needs a non-empty shape
    std::vector<hsize_t> chunk(shape.begin(), shape.end());
    check_status(H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()), where(name),
                 "cannot set chunking");
    check_status(H5Pset_fletcher32(dcpl.get()), where(name), "cannot enable checksums");
  }
  Id lcpl = intermediate_lcpl();
  Id ds(check(H5Dcreate2(id_.get(), name.c_str(), H5T_IEEE_F32LE, space.get(), lcpl.get(),
                         dcpl.get(), H5P_DEFAULT),
              where(name), "cannot create dataset"),
        Id::Kind::dataset);
  if (t.size() > 0)
    check_status(H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()),
                 where(name), "cannot write");
}

Tensor Group::read_tensor(const std::string& name) const {
  if (!has(name)) throw error(where(name), ": dataset not found");
  Id ds(check(H5Dopen2(id_.get(), name.c_str(), H5P_DEFAULT), where(name), "cannot open dataset"),
        Id::Kind::dataset);
  Id type(H5Dget_type(ds.get()), Id::Kind::datatype);
  if (H5Tget_class(type.get()) != H5T_FLOAT) throw error(where(name), ": not a float dataset");
  Id space(check(H5Dget_space(ds.get()), where(name), "cannot read shape"), Id::Kind::dataspace);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 8) throw error(where(name), ": bad rank ", rank);
  std::vector<hsize_t> dims(std::size_t(rank), 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  Tensor t = Tensor::from_shape(Shape(dims.begin(), dims.end()));
  if (t.size() > 0 &&
      H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()) < 0)
    throw error(where(name), ": cannot read (damaged data or checksum mismatch)");
  return t;
}

void Group::write(const std::string& name, const std::string& s) {
  Id type(H5Tcopy(H5T_C_S1), Id::Kind::datatype);
  H5Tset_size(type.get(), std::max<std::size_t>(s.size(), 1));
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Id space(H5Screate(H5S_SCALAR), Id::Kind::dataspace);
  Id lcpl = intermediate_lcpl();
  Id ds(check(H5Dcreate2(id_.get(), name.c_str(), type.get(), space.get(), lcpl.get(),
                         H5P_DEFAULT, H5P_DEFAULT),
              where(name), "cannot create string"),
        Id::Kind::dataset);
  std::string padded = s;
  padded.resize(std::max<std::size_t>(s.size(), 1), '\0');
  check_status(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, padded.data()),
               where(name), "cannot write string");
}

std::string Group::read_string(const std::string& name) const {
  if (!has(name)) throw error(where(name), ": string not found");
  Id ds(check(H5Dopen2(id_.get(), name.c_str(), H5P_DEFAULT), where(name), "cannot open"),
        Id::Kind::dataset);
  Id type(H5Dget_type(ds.get()), Id::Kind::datatype);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
    throw error(where(name), ": not a fixed-length string");
  std::string s(H5Tget_size(type.get()), '\0');
  Id mem(H5Tcopy(type.get()), Id::Kind::datatype);
  check_status(H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data()), where(name),
               "cannot read string");
  s.resize(std::strlen(s.c_str()));
  return s;
}

void Group::write(const std::string& name, double v) {
  Id space(H5Screate(H5S_SCALAR), Id::Kind::dataspace);
  Id lcpl = intermediate_lcpl();
  Id ds(check(H5Dcreate2(id_.get(), name.c_str(), H5T_IEEE_F64LE, space.get(), lcpl.get(),
                         H5P_DEFAULT, H5P_DEFAULT),
              where(name), "cannot create scalar"),
        Id::Kind::dataset);
  check_status(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v),
               where(name), "cannot write scalar");
}

double Group::read_double(const std::string& name) const {
  if (!has(name)) throw error(where(name), ": scalar not found");
  Id ds(check(H5Dopen2(id_.get(), name.c_str(), H5P_DEFAULT), where(name), "cannot open"),
        Id::Kind::dataset);
  Id space(H5Dget_space(ds.get()), Id::Kind::dataspace);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) throw error(where(name), ": not a scalar");
  double v = 0;
  check_status(H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v),
               where(name), "cannot read scalar");
  return v;
}

namespace {
// A 1-D dataset of `n` elements of `file_type`, chunked with checksums when non-empty.
Id create_column(hid_t loc, const std::string& name, hid_t file_type, std::size_t n,
                 const std::string& where_name) {
  const hsize_t dims[1] = {hsize_t(n)};
  Id space(H5Screate_simple(1, dims, nullptr), Id::Kind::dataspace);
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), Id::Kind::plist);
  if (n > 0) {
    check_status(H5Pset_chunk(dcpl.get(), 1, dims), where_name, "cannot set chunking");
    check_status(H5Pset_fletcher32(dcpl.get()), where_name, "cannot enable checksums");
  }
  Id lcpl = intermediate_lcpl();
  return Id(check(H5Dcreate2(loc, name.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(),
                             H5P_DEFAULT),
                  where_name, "cannot create dataset"),
            Id::Kind::dataset);
}
}  // namespace

void Group::write_doubles(const std::string& name, const std::vector<double>& v) {
  Id ds = create_column(id_.get(), name, H5T_IEEE_F64LE, v.size(), where(name));
  if (!v.empty())
    check_status(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()),
                 where(name), "cannot write");
}

std::vector<double> Group::read_doubles(const std::string& name) const {
  if (!has(name)) throw error(where(name), ": dataset not found");
  Id ds(check(H5Dopen2(id_.get(), name.c_str(), H5P_DEFAULT), where(name), "cannot open dataset"),
        Id::Kind::dataset);
  Id space(check(H5Dget_space(ds.get()), where(name), "cannot read shape"), Id::Kind::dataspace);
  if (H5Sget_simple_extent_ndims(space.get()) != 1) throw error(where(name), ": not 1-D");
  std::vector<double> v(std::size_t(H5Sget_simple_extent_npoints(space.get())));
  if (!v.empty() &&
      H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    throw error(where(name), ": cannot read (damaged data or checksum mismatch)");
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
  Id type(H5Tcopy(H5T_C_S1), Id::Kind::datatype);
  H5Tset_size(type.get(), width);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Id ds = create_column(id_.get(), name, type.get(), v.size(), where(name));
  std::string buf(width * v.size(), '\0');
  for (std::size_t i = 0; i < v.size(); ++i) std::copy(v[i].begin(), v[i].end(), buf.begin() + i * width);
  if (!v.empty())
    check_status(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
                 where(name), "cannot write");
}

std::vector<std::string> Group::read_strings(const std::string& name) const {
  if (!has(name)) throw error(where(name), ": dataset not found");
  Id ds(check(H5Dopen2(id_.get(), name.c_str(), H5P_DEFAULT), where(name), "cannot open dataset"),
        Id::Kind::dataset);
  Id type(H5Dget_type(ds.get()), Id::Kind::datatype);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
    throw error(where(name), ": not fixed-length strings");
  Id space(check(H5Dget_space(ds.get()), where(name), "cannot read shape"), Id::Kind::dataspace);
  const std::size_t n = std::size_t(H5Sget_simple_extent_npoints(space.get()));
  const std::size_t width = H5Tget_size(type.get());
  std::string buf(width * n, '\0');
  if (n > 0 && H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw error(where(name), ": cannot read (damaged data or checksum mismatch)");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string s = buf.substr(i * width, width);
    s.resize(std::strlen(s.c_str()));
    out.push_back(s);
  }
  return out;
}

void Group::copy_from(const Group& src, const std::string& name) {
  Id lcpl = intermediate_lcpl();
  check_status(H5Ocopy(src.id_.get(), ".", id_.get(), name.c_str(), H5P_DEFAULT, lcpl.get()),
               where(name), "cannot copy group");
}

void Group::set_attr(const std::string& name, std::int64_t v) {
  Id space(H5Screate(H5S_SCALAR), Id::Kind::dataspace);
  Id a(check(H5Acreate2(id_.get(), name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT,
                        H5P_DEFAULT),
             where("@" + name), "cannot create attribute"),
       Id::Kind::attribute);
  check_status(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), where("@" + name), "cannot write");
}

void Group::set_attr(const std::string& name, const std::string& v) {
  Id type(H5Tcopy(H5T_C_S1), Id::Kind::datatype);
  H5Tset_size(type.get(), std::max<std::size_t>(v.size(), 1));
  Id space(H5Screate(H5S_SCALAR), Id::Kind::dataspace);
  Id a(check(H5Acreate2(id_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
             where("@" + name), "cannot create attribute"),
       Id::Kind::attribute);
  std::string padded = v;
  padded.resize(std::max<std::size_t>(v.size(), 1), '\0');
  check_status(H5Awrite(a.get(), type.get(), padded.data()), where("@" + name), "cannot write");
}

bool Group::has_attr(const std::string& name) const {
  return H5Aexists(id_.get(), name.c_str()) > 0;
}

std::int64_t Group::attr_int(const std::string& name) const {
  if (!has_attr(name)) throw error(where("@" + name), ": attribute not found");
  Id a(check(H5Aopen(id_.get(), name.c_str(), H5P_DEFAULT), where("@" + name), "cannot open"),
       Id::Kind::attribute);
  std::int64_t v = 0;
  check_status(H5Aread(a.get(), H5T_NATIVE_INT64, &v), where("@" + name), "not an integer");
  return v;
}

std::string Group::attr_string(const std::string& name) const {
  if (!has_attr(name)) throw error(where("@" + name), ": attribute not found");
  Id a(check(H5Aopen(id_.get(), name.c_str(), H5P_DEFAULT), where("@" + name), "cannot open"),
       Id::Kind::attribute);
  Id type(H5Aget_type(a.get()), Id::Kind::datatype);
  if (H5Tget_class(type.get()) != H5T_STRING) throw error(where("@" + name), ": not a string");
  std::string s(H5Tget_size(type.get()), '\0');
  check_status(H5Aread(a.get(), type.get(), s.data()), where("@" + name), "cannot read");
  s.resize(std::strlen(s.c_str()));
  return s;
}

File File::create(const std::string& path) {
  (void)kSilenced;
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) throw error(path, ": cannot create HDF5 file (folder missing or not writable?)");
  return File(Id(f, Id::Kind::file), path);
}

File File::open_read(const std::string& path) {
  (void)kSilenced;
  if (!std::filesystem::exists(path)) throw error(path, ": file not found");
  if (!has_hdf5_signature(path))
    throw error(path, ": not an HDF5 file (no HDF5 signature at byte offset 0)");
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw error(path, ": not a readable HDF5 file (truncated or damaged)");
  return File(Id(f, Id::Kind::file), path);
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

bool has_hdf5_signature(const std::string& path) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  std::ifstream in(path, std::ios::binary);
  unsigned char head[8] = {};
  if (!in.read(reinterpret_cast<char*>(head), 8)) return false;
  return std::equal(head, head + 8, sig);
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

void commit_partial(const std::string& partial, const std::string& path) {
  const int fd = ::open(partial.c_str(), O_RDONLY);
  if (fd < 0) throw error(partial, ": cannot reopen to sync");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw error(partial, ": fsync failed");
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) throw error(path, ": cannot rename ", partial, " into place (", ec.message(), ")");
  // Make the rename itself durable.
  const std::string dir = std::filesystem::absolute(path).parent_path().string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace qb::h5
