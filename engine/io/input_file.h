// The check every reader of a user-given file makes before opening it.
//
// std::ifstream and gzopen open a directory without complaint (the read fails later, with no
// reason given), and opening a FIFO blocks until some writer appears — a reader pointed at one
// would hang forever. So readers stat the path first and refuse, in one line naming it,
// anything but a regular file; a file whose first byte cannot be read (permissions, I/O
// error) is refused the same way.
#pragma once

#include <string>

namespace qb {

// Throws qb::Error "<path>: <why>, expected <what>" unless `path` is a readable regular file.
// `what` names the expected content with its article: "a sweep config", "an IDX file".
void check_input_file(const std::string& path, const std::string& what);

// Throws qb::Error "<path>: is not a directory, expected <what>" when `path` exists and is not
// a folder, and "<path>: folder not found, expected <what>" when it is missing, unless
// `may_be_created` (an output folder made on demand).
void check_folder(const std::string& path, const std::string& what, bool may_be_created);

}  // namespace qb
