// `qbench h5-upgrade FILE...`: rewrites HDF5 files from an older qbench (checkpoints, cells,
// merged results: HDF5's earliest format, without metadata checksums) in the checksummed
// format qbench now writes and reads (engine/io/hdf5.h says why). Each file is replaced
// atomically; its groups, datasets and attributes are copied unchanged. The old format is read
// by libhdf5 without the checksums' protection, so this is for files of one's own, not for
// files of unknown origin.
#include "apps/commands.h"
#include "engine/io/hdf5.h"

#include <cstdio>

namespace qb::app {

Run add_h5_upgrade(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand(
      "h5-upgrade", "Rewrite HDF5 files from an older qbench in the checksummed format");
  cmd->add_option("files", *files, "Checkpoints, cells or merged results files")->required();
  return [files] {
    for (const std::string& path : *files)
      std::fprintf(stderr, "%s: %s\n", path.c_str(),
                   h5::File::upgrade(path) ? "upgraded" : "already in the checksummed format");
    return 0;
  };
}

}  // namespace qb::app
