// Checkpoints: everything needed to continue a run bit for bit, in one HDF5 file.
//
//   /                    @schema_version (int), @format = "qbench-checkpoint"
//   /params/<name>       float32 tensors, by Param::name ("stage1.block0.1.conv.weight")
//   /buffers/<name>      float32 tensors (BatchNorm running statistics)
//   /optimizer/<key>     float32 tensors; keys contain '/' ("weights/momentum/fc.weight")
//                        and become nested groups
//   /scalars/<name>      float64 scalars (epoch, ...)
//   /strings/<name>      fixed-length strings (run identity, config JSON, history JSON)
//
// Saving is atomic (written to "<path>.partial", fsynced, renamed): a kill at any moment
// leaves either the previous checkpoint or the new one. Loading refuses files that are not
// HDF5, have an unknown schema_version, miss a group, or fail a checksum, naming the file.
// docs/checkpoint-format.md describes the layout for h5py users.
#pragma once

#include "engine/tensor.h"

#include <map>
#include <string>

namespace qb {

constexpr int kCheckpointSchemaVersion = 1;

struct Checkpoint {
  int schema_version = kCheckpointSchemaVersion;
  std::map<std::string, Tensor> params, buffers, optimizer;
  std::map<std::string, double> scalars;
  std::map<std::string, std::string> strings;
};

void save_checkpoint(const std::string& path, const Checkpoint& ck);
Checkpoint load_checkpoint(const std::string& path);

}  // namespace qb
