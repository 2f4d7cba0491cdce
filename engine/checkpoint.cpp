#include "engine/checkpoint.h"

#include "engine/check.h"
#include "engine/io/hdf5.h"

namespace qb {
namespace {

constexpr const char* kFormat = "qbench-checkpoint";

// Deeper than any name qbench writes ("adam/m/stage1.block0.conv1.weight" is 3): a damaged
// file whose hard links form a cycle would otherwise recurse until the stack ran out.
constexpr int kMaxDepth = 8;

// Reads every dataset below `g`, keyed by its path relative to `g` ("weights/momentum/x").
void read_tensors(const h5::Group& g, const std::string& prefix, std::map<std::string, Tensor>& out,
                  int depth = 0) {
  if (depth > kMaxDepth) throw error(g.file(), ": ", g.path(), ": groups nested too deep");
  for (const auto& name : g.children()) {
    if (g.is_group(name))
      read_tensors(g.open_group(name), prefix + name + "/", out, depth + 1);
    else
      out[prefix + name] = g.read_tensor(name);
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  h5::write_atomically(path, [&](h5::File& f) {
    h5::Group root = f.root();
    root.set_attr("schema_version", std::int64_t(ck.schema_version));
    root.set_attr("format", std::string(kFormat));
    auto params = root.create_group("params");
    for (const auto& [k, v] : ck.params) params.write(k, v);
    auto buffers = root.create_group("buffers");
    for (const auto& [k, v] : ck.buffers) buffers.write(k, v);
    auto optimizer = root.create_group("optimizer");
    for (const auto& [k, v] : ck.optimizer) optimizer.write(k, v);
    auto scalars = root.create_group("scalars");
    for (const auto& [k, v] : ck.scalars) scalars.write(k, v);
    auto strings = root.create_group("strings");
    for (const auto& [k, v] : ck.strings) strings.write(k, v);
  });
}

Checkpoint load_checkpoint(const std::string& path) {
  const h5::File f = h5::File::open_read(path);
  const h5::Group root = f.root();
  if (!root.has_attr("format") || root.attr_string("format") != kFormat)
    throw error(path, ": not a qbench checkpoint (no @format = \"", kFormat, "\" on /)");
  Checkpoint ck;
  const std::int64_t version = root.attr_int("schema_version");
  if (version != kCheckpointSchemaVersion)
    throw error(path, ": checkpoint schema_version ", version,
                " is not supported (this qbench reads ", kCheckpointSchemaVersion, ")");
  ck.schema_version = int(version);
  read_tensors(root.open_group("params"), "", ck.params);
  read_tensors(root.open_group("buffers"), "", ck.buffers);
  read_tensors(root.open_group("optimizer"), "", ck.optimizer);
  const h5::Group scalars = root.open_group("scalars");
  for (const auto& k : scalars.children()) ck.scalars[k] = scalars.read_double(k);
  const h5::Group strings = root.open_group("strings");
  for (const auto& k : strings.children()) ck.strings[k] = strings.read_string(k);
  return ck;
}

}  // namespace qb
