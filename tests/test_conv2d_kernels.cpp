// The fp32 convolution kernels (engine/layers/conv2d_kernels.h) against a direct convolution
// summed in double: forward, dL/dx and dL/dw, on one and two threads, for every path (GEMM
// with and without im2col, several images per GEMM, groups, depthwise, the direct kernels,
// oneDNN's primitives, the stem kernels),
// each forced (set_conv_path) and as chosen by shape.
#include "engine/layers/conv2d_kernels.h"
#include "engine/layers/conv2d_tile.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <utility>
#include <vector>

using namespace qb;

namespace {

using test::normal_floats;

// Calls f(n, o, c, cg, oh, ow, ih, iw, i, j) for every product x[n,c,ih,iw] · w[o,cg,i,j]
// that reaches y[n,o,oh,ow] (c is the input channel, cg its index within its group).
template <class F>
void for_each_tap(const Conv2dGeometry& q, F f) {
  for (std::size_t n = 0; n < q.N; ++n)
    for (std::size_t o = 0; o < q.O; ++o)
      for (std::size_t oh = 0; oh < q.Ho; ++oh)
        for (std::size_t ow = 0; ow < q.Wo; ++ow)
          for (std::size_t cg = 0; cg < q.Cg; ++cg)
            for (std::size_t i = 0; i < q.k; ++i)
              for (std::size_t j = 0; j < q.k; ++j) {
                const long ih = long(oh * q.s + i) - long(q.p);
                const long iw = long(ow * q.s + j) - long(q.p);
                if (ih < 0 || iw < 0 || ih >= long(q.H) || iw >= long(q.W)) continue;
                const std::size_t c = (o / q.Og) * q.Cg + cg;
                f(n, o, c, cg, oh, ow, std::size_t(ih), std::size_t(iw), i, j);
              }
}

struct Reference {
  std::vector<double> y, dx, dw;
};

// y = x ⊛ w, dx = dL/dx and dw = dL/dw for the output gradient dy, by definition.
Reference direct_convolution(const Conv2dGeometry& q, const std::vector<float>& x,
                             const std::vector<float>& w, const std::vector<float>& dy) {
  Reference r{std::vector<double>(q.N * q.O * q.HWo), std::vector<double>(x.size()),
              std::vector<double>(w.size())};
  for_each_tap(q,
               [&](std::size_t n, std::size_t o, std::size_t c, std::size_t cg, std::size_t oh,
                   std::size_t ow, std::size_t ih, std::size_t iw, std::size_t i, std::size_t j) {
                 const std::size_t yi = ((n * q.O + o) * q.Ho + oh) * q.Wo + ow;
                 const std::size_t xi = ((n * q.C + c) * q.H + ih) * q.W + iw;
                 const std::size_t wi = ((o * q.Cg + cg) * q.k + i) * q.k + j;
                 r.y[yi] += double(x[xi]) * w[wi];
                 r.dx[xi] += double(dy[yi]) * w[wi];
                 r.dw[wi] += double(dy[yi]) * x[xi];
               });
  return r;
}

void require_close(const std::vector<float>& got, const std::vector<double>& want, double offset,
                   const char* what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO(what << "[" << i << "]");
    REQUIRE(got[i] == Approx(want[i] + offset).margin(1e-4).epsilon(1e-5));
  }
}

struct Case {
  std::size_t N, C, H, W, O, k, s, p, g;
  const char* what;
};

const Case kCases[] = {
    {5, 3, 7, 6, 4, 3, 1, 1, 1, "same padding, odd sizes, several images per GEMM"},
    {1, 3, 7, 6, 4, 3, 1, 1, 1, "one image: a thread without work"},
    {3, 2, 8, 8, 6, 5, 1, 2, 1, "LeNet-like 5x5"},
    {4, 4, 9, 9, 4, 3, 2, 1, 1, "stride 2"},
    {3, 4, 9, 8, 6, 3, 2, 0, 2, "grouped, no padding"},
    {3, 8, 5, 5, 4, 1, 1, 0, 1, "pointwise (no im2col)"},
    {1, 8, 5, 5, 4, 1, 1, 0, 1, "pointwise, one image"},
    {3, 3, 6, 6, 2, 1, 2, 0, 1, "1x1 stride 2 (im2col)"},
    {2, 2, 8, 7, 3, 3, 3, 2, 1, "stride 3, padding 2"},
    {3, 16, 6, 5, 6, 3, 1, 2, 2, "grouped, padding k-1: dx as a flipped convolution"},
    {3, 4, 9, 8, 6, 3, 2, 1, 2, "grouped, stride 2, padding: dx by col2im"},
    {3, 16, 7, 7, 4, 5, 1, 2, 2, "grouped 5x5, several images per GEMM in dx"},
    {3, 6, 6, 6, 6, 3, 1, 1, 6, "depthwise"},
    {3, 5, 7, 7, 5, 3, 2, 1, 5, "depthwise, stride 2"},
    {1, 6, 6, 6, 6, 3, 1, 1, 6, "depthwise, one image"},
    // Shapes for the direct kernels' panels: 24-pixel panels that cross rows and images, a last
    // panel cut short, K past a multiple of 24, channel counts off a multiple of 4.
    {3, 16, 7, 7, 16, 3, 1, 1, 1, "ResNet stage 3 in small: 7x7 panels across images"},
    {2, 9, 14, 13, 10, 3, 2, 1, 1, "stride 2, odd width, O not a multiple of 4"},
    {3, 5, 5, 11, 7, 3, 1, 1, 1, "K = 45, rows shorter than a panel"},
    {2, 3, 31, 29, 5, 3, 1, 1, 1, "stem-like, rows longer than a panel"},
    {1, 2, 3, 3, 3, 3, 1, 1, 1, "one 3x3 image: every pixel an edge pixel"},
    {2, 4, 6, 7, 9, 2, 2, 1, 1, "even kernel, stride 2"},
    // Stems (conv2d_stem.h): rows of whole and part vectors, one or two tiles per row, odd O.
    {3, 1, 28, 28, 6, 5, 1, 2, 1, "LeNet-5's conv1: stem rows of 3.5 vectors"},
    {2, 3, 13, 11, 16, 3, 1, 1, 1, "RGB stem 3x3, width off a multiple of 8"},
    {2, 1, 9, 6, 5, 7, 1, 3, 1, "7x7 stem on an image narrower than a vector, O odd"},
    {3, 4, 9, 20, 3, 3, 1, 0, 1, "4-channel stem, no padding, 2.25 vectors per row"},
    {2, 2, 8, 40, 3, 5, 1, 1, 1, "stem rows of 4.75 vectors: two tiles per row"},
    // Two stems whose padded tiles are the same size, the second's border where the first's
    // pixels lay: a scratch kept from one to the other must zero it anew.
    {2, 1, 10, 8, 2, 3, 1, 0, 1, "stem without padding, its tile 10x10"},
    {2, 1, 8, 6, 2, 3, 1, 1, 1, "stem with padding 1, its tile 10x10 too"},
};

// Every path the kernels can take: auto (the measured table), and each forced.
constexpr std::pair<ConvPath, const char*> kPaths[] = {{ConvPath::automatic, "auto"},
                                                       {ConvPath::gemm, "gemm"},
                                                       {ConvPath::direct, "direct"},
                                                       {ConvPath::onednn, "onednn"},
                                                       {ConvPath::stem, "stem"}};

}  // namespace

TEST_CASE("conv2d kernels match a direct convolution (forward and both gradients)",
          "[layers][conv]") {
  for (const auto& [path, name] : kPaths)
    for (int threads : {1, 2}) {
      set_threads(threads);
      set_conv_path(path);
      for (const Case& c : kCases) {
        INFO(c.what << ", threads " << threads << ", conv path " << name);
        const Conv2dGeometry q = conv2d_geometry(c.N, c.C, c.H, c.W, c.O, c.k, c.s, c.p, c.g);
        const auto x = normal_floats(q.N * q.C * q.H * q.W, 1);
        const auto w = normal_floats(q.O * q.Cg * q.k * q.k, 2);
        const auto dy = normal_floats(q.N * q.O * q.HWo, 3);
        const Reference ref = direct_convolution(q, x, w, dy);
        Conv2dScratch scratch;

        std::vector<float> y(ref.y.size(), 7.0f);  // overwritten
        conv2d_forward(y.data(), x.data(), w.data(), q, scratch);
        require_close(y, ref.y, 0.0, "y");

        // dx is overwritten, dw accumulated: start both from garbage.
        std::vector<float> dx(x.size(), 7.0f), dw(w.size(), 0.5f);
        conv2d_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), q, scratch);
        require_close(dx, ref.dx, 0.0, "dx");
        require_close(dw, ref.dw, 0.5, "dw");

        // Again, without dx and with the scratch of the first call: dw gains the same once more
        // (no partial sum of the first call may leak into the second).
        conv2d_backward(nullptr, dw.data(), dy.data(), x.data(), w.data(), q, scratch);
        std::vector<double> twice(ref.dw.size());
        for (std::size_t i = 0; i < twice.size(); ++i) twice[i] = 2 * ref.dw[i];
        require_close(dw, twice, 0.5, "dw after a second call");
      }
    }
  set_conv_path(conv_path_setting());
  set_threads(1);
}

TEST_CASE("conv2d kernels add the bias and sum its gradient per channel", "[layers][conv]") {
  const std::size_t N = 3, O = 4, HW = 5;
  const auto b = normal_floats(O, 4);
  const auto dy = normal_floats(N * O * HW, 5);
  std::vector<float> y(N * O * HW, 1.0f), db(O, 0.25f);
  add_channel_bias(y.data(), b.data(), N, O, HW);
  accumulate_channel_bias_grad(db.data(), dy.data(), N, O, HW);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t i = 0; i < HW; ++i) REQUIRE(y[(n * O + o) * HW + i] == 1.0f + b[o]);
  for (std::size_t o = 0; o < O; ++o) {
    double want = 0.25;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t i = 0; i < HW; ++i) want += dy[(n * O + o) * HW + i];
    REQUIRE(db[o] == Approx(want).epsilon(1e-5));
  }
}

// Same inputs and thread count, same bits, on every path: oneDNN's primitives included (made
// once per geometry and kept, or made anew in a fresh scratch), and across batch sizes that
// share one scratch (the training batch, its last short batch, evaluation; five sizes, more
// than oneDNN's cache keeps, so some are made again after being dropped).
TEST_CASE("conv2d kernels are bitwise reproducible for a thread count", "[layers][conv]") {
  for (const auto& [path, name] : kPaths)
    for (int threads : {1, 2}) {
      set_threads(threads);
      set_conv_path(path);
      INFO("threads " << threads << ", conv path " << name);
      Conv2dScratch kept;
      for (std::size_t N : {16, 5, 16, 3, 7, 9, 16, 5}) {
        const Conv2dGeometry q = conv2d_geometry(N, 16, 14, 14, 32, 3, 1, 1, 1);
        const auto x = normal_floats(q.N * q.C * q.H * q.W, 1);
        const auto w = normal_floats(q.O * q.Cg * q.k * q.k, 2);
        const auto dy = normal_floats(q.N * q.O * q.HWo, 3);
        std::vector<float> y[2], dx[2], dw[2];
        for (int run = 0; run < 2; ++run) {
          Conv2dScratch fresh;
          Conv2dScratch& scratch = run == 0 ? kept : fresh;
          y[run].resize(q.N * q.O * q.HWo);
          dx[run].resize(x.size());
          dw[run].assign(w.size(), 0.0f);
          conv2d_forward(y[run].data(), x.data(), w.data(), q, scratch);
          conv2d_backward(dx[run].data(), dw[run].data(), dy.data(), x.data(), w.data(), q,
                          scratch);
        }
        CHECK(y[0] == y[1]);
        CHECK(dx[0] == dx[1]);
        CHECK(dw[0] == dw[1]);
      }
    }
  set_conv_path(conv_path_setting());
  set_threads(1);
}

// The oneDNN path's weight gradient reuses the forward's blocked copy of x when the caller
// says x is what that forward read (ConvInput::forwarded): the same bits as reordering x
// again; a different buffer is reordered anyway, even when the caller says `forwarded`; and a
// forward on another path in between leaves no copy to reuse.
TEST_CASE("oneDNN's weight gradient reuses the forward's copy of x only when it is x's",
          "[layers][conv]") {
  set_threads(1);
  const Conv2dGeometry q = conv2d_geometry(4, 16, 10, 10, 16, 3, 1, 1, 1);
  const auto x = normal_floats(q.N * q.C * q.H * q.W, 1);
  const auto other = normal_floats(x.size(), 4);
  const auto w = normal_floats(q.O * q.Cg * q.k * q.k, 2);
  const auto dy = normal_floats(q.N * q.O * q.HWo, 3);
  const Reference ref = direct_convolution(q, other, w, dy);
  const auto backward = [&](const std::vector<float>& forwarded, const std::vector<float>& input,
                            ConvPath forward_path, ConvInput claim) {
    Conv2dScratch scratch;
    std::vector<float> y(q.N * q.O * q.HWo), dx(x.size()), dw(w.size(), 0.0f);
    set_conv_path(ConvPath::onednn);
    conv2d_forward(y.data(), x.data(), w.data(), q, scratch);  // a copy of x made
    set_conv_path(forward_path);
    conv2d_forward(y.data(), forwarded.data(), w.data(), q, scratch);
    set_conv_path(ConvPath::onednn);
    conv2d_backward(dx.data(), dw.data(), dy.data(), input.data(), w.data(), q, scratch, claim);
    return dw;
  };
  CHECK(backward(x, x, ConvPath::onednn, ConvInput::forwarded) ==
        backward(x, x, ConvPath::onednn, ConvInput::unknown));
  // `other` is a buffer the forwards never read: its own gradient, not x's.
  require_close(backward(x, other, ConvPath::onednn, ConvInput::forwarded), ref.dw, 0.0, "dw");
  // The last forward ran on qbench's GEMM and read `other`; x's copy from before is stale.
  auto stale = x;  // `other`'s values at x's address: only the forget can tell them apart
  const auto dw_gemm_forward = [&] {
    Conv2dScratch scratch;
    std::vector<float> y(q.N * q.O * q.HWo), dx(x.size()), dw(w.size(), 0.0f);
    set_conv_path(ConvPath::onednn);
    conv2d_forward(y.data(), stale.data(), w.data(), q, scratch);
    stale = other;  // same buffer, new values, as a layer's input is from step to step
    set_conv_path(ConvPath::gemm);
    conv2d_forward(y.data(), stale.data(), w.data(), q, scratch);
    set_conv_path(ConvPath::onednn);
    conv2d_backward(dx.data(), dw.data(), dy.data(), stale.data(), w.data(), q, scratch,
                    ConvInput::forwarded);
    return dw;
  };
  require_close(dw_gemm_forward(), ref.dw, 0.0, "dw after a forward on another path");
  set_conv_path(conv_path_setting());
}

// The stem kernels' AVX2 form and their scalar fallback do the same fused multiply-adds in the
// same order: the same bits. And dL/dW depends on the thread count alone: a scratch kept across
// batch sizes (and a geometry change in between) gives what a fresh one does.
TEST_CASE("stem kernels: AVX2 and the scalar fallback agree bit for bit", "[layers][conv]") {
  if (!cpu_has_avx2_fma()) WARN("no AVX2+FMA here: both sides run the scalar fallback");
  for (int threads : {1, 2}) {
    set_threads(threads);
    Conv2dStemScratch kept;
    for (const Case& c : kCases) {
      const Conv2dGeometry q = conv2d_geometry(c.N, c.C, c.H, c.W, c.O, c.k, c.s, c.p, c.g);
      if (!conv2d_stem_supported(q)) continue;
      INFO(c.what << ", threads " << threads);
      const auto x = normal_floats(q.N * q.C * q.H * q.W, 1);
      const auto w = normal_floats(q.O * q.K, 2);
      const auto dy = normal_floats(q.N * q.O * q.HWo, 3);
      std::vector<float> y[3], dw[3];
      for (int run = 0; run < 3; ++run) {
        Conv2dStemScratch fresh;
        Conv2dStemScratch& scratch = run == 1 ? kept : fresh;
        const StemKernel kernel = run == 2 ? StemKernel::scalar : StemKernel::best;
        y[run].assign(q.N * q.O * q.HWo, 7.0f);
        dw[run].assign(w.size(), 0.25f);
        conv2d_forward_stem(y[run].data(), x.data(), w.data(), q, scratch, kernel);
        conv2d_weight_grad_stem(dw[run].data(), dy.data(), x.data(), q, scratch, kernel);
      }
      CHECK(y[0] == y[1]);
      CHECK(dw[0] == dw[1]);
      CHECK(y[0] == y[2]);
      CHECK(dw[0] == dw[2]);
    }
  }
  set_threads(1);
}
