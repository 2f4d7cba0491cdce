#include "engine/io/input_file.h"

#include "engine/check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qb {

void check_input_file(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) throw error(path, ": file not found, expected ", what);
    throw error(path, ": cannot access (", std::strerror(errno), "), expected ", what);
  }
  if (S_ISDIR(st.st_mode)) throw error(path, ": is a directory, expected ", what);
  if (!S_ISREG(st.st_mode))
    throw error(path, ": is not a regular file (a FIFO, device or socket), expected ", what);
  // Opening a regular file never blocks; reading one byte finds permission and I/O errors
  // (as root, permissions do not stop the open, but /proc-like files may still fail to read).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw error(path, ": cannot open (", std::strerror(errno), "), expected ", what);
  char byte;
  const ssize_t got = ::pread(fd, &byte, 1, 0);
  const int read_errno = errno;
  ::close(fd);
  if (got < 0)
    throw error(path, ": cannot read (", std::strerror(read_errno), "), expected ", what);
}

void check_folder(const std::string& path, const std::string& what, bool may_be_created) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT && may_be_created) return;
    if (errno == ENOENT) throw error(path, ": folder not found, expected ", what);
    throw error(path, ": cannot access (", std::strerror(errno), "), expected ", what);
  }
  if (!S_ISDIR(st.st_mode)) throw error(path, ": is not a directory, expected ", what);
}

}  // namespace qb
