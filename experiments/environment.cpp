#include "experiments/environment.h"

#include <cblas.h>
#include <hdf5.h>
#include <oneapi/dnnl/dnnl.h>
#include <xtensor/xtensor_config.hpp>

#include <unistd.h>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

// The commit is baked in at build time (QB_GIT_COMMIT from the generated qb_git_commit.h,
// cmake/git_commit.cmake; "-dirty" when tracked files differed from HEAD): a binary copied to
// a cluster node still knows where it came from.
#include "qb_git_commit.h"

namespace qb::exp {
namespace {

// "model name" and the ISA flags that matter to kernels, from /proc/cpuinfo's first CPU.
std::pair<std::string, std::string> cpu() {
  static const std::set<std::string> interesting = {
      "sse4_2",   "avx",      "avx2",     "fma",         "f16c",     "avx512f",
      "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx_vnni", "avx512_bf16",
      "amx_tile", "amx_int8", "asimd",    "sve"};
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown", flags;
  bool have_flags = false;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model name" && model == "unknown") model = value;
    if ((key == "flags" || key == "Features") && !have_flags) {
      have_flags = true;
      std::istringstream words(value);
      std::string w;
      while (words >> w)
        if (interesting.count(w)) flags += (flags.empty() ? "" : " ") + w;
    }
  }
  return {model, flags};
}

}  // namespace

nlohmann::json environment(int threads) {
  const auto [model, flags] = cpu();
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const dnnl_version_t* dnnl = dnnl_version();
  // QB_CONV_PATH chooses the fp32 convolution kernels (engine/layers/conv2d_kernels.h), and so
  // the float path's summation order.
  const char* conv_path = std::getenv("QB_CONV_PATH");
  return {{"qbench_commit", QB_GIT_COMMIT},
          {"compiler", std::string("g++ ") + __VERSION__},
          {"cpu_model", model},
          {"cpu_flags", flags},
          {"hardware_threads", std::thread::hardware_concurrency()},
          {"threads", threads},
          {"host", host},
          {"conv_path", conv_path && *conv_path ? conv_path : "auto"},
          {"libraries",
           {{"hdf5", std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel)},
            {"openblas", openblas_get_config()},
            {"onednn", std::to_string(dnnl->major) + "." + std::to_string(dnnl->minor) + "." +
                           std::to_string(dnnl->patch)},
            {"xtensor", std::to_string(XTENSOR_VERSION_MAJOR) + "." +
                            std::to_string(XTENSOR_VERSION_MINOR) + "." +
                            std::to_string(XTENSOR_VERSION_PATCH)},
            {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                                  std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                                  std::to_string(NLOHMANN_JSON_VERSION_PATCH)}}}};
}

}  // namespace qb::exp
