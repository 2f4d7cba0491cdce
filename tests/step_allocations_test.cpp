// Heap allocations of the training loop: after its first steps, a training step (batch, forward,
// loss, backward, optimizer update, method callbacks) allocates no buffer. Layers own their
// buffers and reuse them; a buffer allocated per step is a bug this test names by method and
// net. Buffers are allocations of at least kBufferBytes: the small ones left (shape vectors
// from shape_of(), a few dozen bytes each, served from malloc's thread cache) are counted and
// printed, not refused — making Shape a fixed-capacity vector would remove them.
//
// Its own executable because it replaces the global operator new with a counting one.
#define CATCH_CONFIG_MAIN
#include "engine/progress.h"
#include "engine/train.h"
#include "methods/qat.h"
#include "methods/registry.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t kBufferBytes = 4096;
std::atomic<long> g_allocations{0}, g_buffers{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n >= kBufferBytes) g_buffers.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t)
                ? std::aligned_alloc(align, (n + align - 1) / align * align)
                : std::malloc(n);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, std::size_t(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

using namespace qb;

// Allocations (all, and buffers alone) counted at the end of each step of the first epoch.
struct StepCounts {
  std::array<long, 64> after_step{}, buffers_after_step{};
  std::size_t steps = 0;
};

// Trains one short epoch of `net` quantized by `method` at W4A4 (fp32: none) on the synthetic
// dataset and returns the allocation count after each step.
StepCounts count_allocations(const std::string& net, const std::string& method, int threads) {
  TrainConfig cfg;
  cfg.net = net;
  cfg.dataset = "synthetic";
  cfg.data.train_limit = 8 * 16;  // 16 steps of 8 images
  cfg.data.val_size = 8;
  cfg.data.test_limit = 8;
  cfg.epochs = 1;
  cfg.batch = 8;
  cfg.eval_batch = 8;
  cfg.opt.lr = 0.01f;
  cfg.threads = threads;
  TrainExtensions ext;
  if (method != "fp32") {
    ext = make_qat(test::low_bit_qat(method));
  }
  StepCounts counts;
  auto method_on_step = ext.on_step;
  ext.on_step = [&counts, method_on_step](std::size_t step) {
    if (method_on_step) method_on_step(step);
    if (counts.steps >= counts.after_step.size()) return;
    counts.after_step[counts.steps] = g_allocations.load(std::memory_order_relaxed);
    counts.buffers_after_step[counts.steps++] = g_buffers.load(std::memory_order_relaxed);
  };
  Progress quiet = Progress::silent();
  train(cfg, quiet, ext);
  return counts;
}

}  // namespace

TEST_CASE("a training step allocates no buffer after the first steps", "[alloc]") {
  for (const char* net : {"lenet5", "resnet20"})
    for (const std::string& method : method_names())
      for (int threads : {1, 2}) {
        if (std::string(net) == "resnet20" && threads == 2 && method != "fp32") continue;
        INFO(net << ", " << method << ", threads " << threads);
        const StepCounts c = count_allocations(net, method, threads);
        REQUIRE(c.steps == 16);
        // Steps 1 and 2 size the buffers; from step 3 on, nothing more.
        for (std::size_t s = 3; s < c.steps; ++s) {
          INFO("buffers allocated in step " << s + 1);
          CHECK(c.buffers_after_step[s] - c.buffers_after_step[s - 1] == 0);
        }
        const long small = c.after_step[c.steps - 1] - c.after_step[c.steps - 2];
        if (small > 0 && threads == 1)
          WARN(net << ", " << method << ": " << small << " small allocations a step");
      }
}

TEST_CASE("the allocation counter counts allocations and buffers", "[alloc]") {
  const long before = g_allocations.load(), buffers_before = g_buffers.load();
  static void* volatile sink;  // volatile: the new/delete pairs cannot be elided
  sink = new std::array<float, kBufferBytes / sizeof(float)>;
  delete static_cast<std::array<float, kBufferBytes / sizeof(float)>*>(sink);
  sink = new std::array<float, 4>;
  delete static_cast<std::array<float, 4>*>(sink);
  REQUIRE(g_allocations.load() == before + 2);
  REQUIRE(g_buffers.load() == buffers_before + 1);
}
