#include "engine/io/atomic_file.h"

#include "engine/check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace qb {

std::string partial_path(const std::string& path) { return path + ".partial"; }

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

void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](const std::string& partial) {
    std::ofstream out(partial, std::ios::binary);
    if (!out) throw error(partial, ": cannot create");
    out << text;
    if (!out.flush()) throw error(partial, ": cannot write");
  });
}

void check_output_file(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw error(path, ": is a directory, expected ", what);
    if (!S_ISREG(st.st_mode))
      throw error(path, ": is not a regular file (a FIFO, device or socket), expected ", what);
  }
  if (!folder_is_writable(std::filesystem::path(path).parent_path().string()))
    throw error(path, ": cannot write here (folder missing or not writable)");
}

bool folder_is_writable(const std::string& dir) {
  // A name of this process's own: concurrent shards probing one folder must not remove each
  // other's probe (nor anyone's partial file).
  const std::filesystem::path folder = dir.empty() ? "." : dir;
  const std::string probe =
      (folder / (".qbench-write-test." + std::to_string(::getpid()))).string();
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) return false;
  std::fclose(f);
  std::remove(probe.c_str());
  return true;
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

}  // namespace qb
