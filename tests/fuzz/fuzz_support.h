// What every libFuzzer harness in tests/fuzz needs: the fuzz input as a file (the readers
// under test take paths), and the one outcome besides success that a malformed input may
// have, a qb::Error. Anything else — another exception, a crash, a leak, a sanitizer report,
// a hang — is a bug that libFuzzer reports and that becomes a regression test in the suite.
#pragma once

#include "engine/check.h"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace qb::fuzz {

// A file holding the current input, rewritten every run. On /dev/shm when it exists (no disk
// in the loop), named by pid so parallel fuzzers (-jobs) do not share it.
class InputFile {
 public:
  explicit InputFile(const char* suffix) {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = std::string(dir) + "/qb-fuzz-" + std::to_string(getpid()) + suffix;
  }
  ~InputFile() { std::remove(path_.c_str()); }

  const std::string& write(const std::uint8_t* data, std::size_t size) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0)
      std::abort();  // the harness itself failed: never report it as a finding
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `f`; a qb::Error (a refusal naming the file and place) is a correct answer.
template <class F>
void refusal_allowed(F&& f) {
  try {
    f();
  } catch (const qb::Error&) {
  }
}

}  // namespace qb::fuzz
