// Files that appear whole or not at all.
//
// A file is written under "<path>.partial" next to its final name, flushed, fsynced and renamed
// over `path`, and the folder is fsynced so the rename itself survives a crash: readers see the
// old file or the complete new one, never a half-written one, and a kill at any moment damages
// nothing already finished. Checkpoints, result cells, merged results and sweep.json are all
// written this way (HDF5 files through h5::write_atomically, engine/io/hdf5.h).
#pragma once

#include <string>

namespace qb {

// Where an atomic write of `path` happens before the rename: "<path>.partial".
std::string partial_path(const std::string& path);

// fsyncs `partial`, renames it over `path` and fsyncs their folder. Throws qb::Error naming
// the file when a step fails.
void commit_partial(const std::string& partial, const std::string& path);

// Runs write_to(partial_path(path)), which creates and completes that file, then commits it.
// When anything throws, the partial file is removed and the old file at `path`, if any, is
// left untouched.
template <class F>
void write_file_atomically(const std::string& path, F&& write_to);

// `text` as the whole content of `path`, written atomically.
void write_text_atomically(const std::string& path, const std::string& text);

// True when a new file can be created in folder `dir` ("" is the working folder): checked
// before a long run rather than discovered when it first saves.
bool folder_is_writable(const std::string& dir);

// Refuses, before a long run rather than at its first save, a `path` that could not take the
// file: an existing directory, FIFO, device or socket (a rename would fail on the first and
// silently replace the others), or a folder where no file can be created. qb::Error "<path>:
// <why>, expected <what>", `what` with its article ("an HDF5 file to write").
void check_output_file(const std::string& path, const std::string& what);

// Removes `path` if it exists; failures are ignored (cleanup on an error path).
void remove_quietly(const std::string& path);

template <class F>
void write_file_atomically(const std::string& path, F&& write_to) {
  const std::string partial = partial_path(path);
  try {
    write_to(partial);
    commit_partial(partial, path);
  } catch (...) {
    remove_quietly(partial);
    throw;
  }
}

}  // namespace qb
