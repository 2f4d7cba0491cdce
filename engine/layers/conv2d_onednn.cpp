#include "engine/layers/conv2d_onednn.h"

#include "engine/parallel.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace qb {

namespace {

using dnnl::memory;
using Args = std::unordered_map<int, memory>;

// A reorder between a user (NCHW/OIHW) buffer and oneDNN's chosen layout, or nothing when
// they are the same.
struct Reorder {
  dnnl::reorder prim;
  memory from, to;
  bool needed = false;
  void run(dnnl::stream& s) {
    if (needed) prim.execute(s, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  }
};

// The buffer a primitive reads or writes for user tensor `user`: `user` itself when oneDNN
// chose its layout, else a blocked buffer and the reorder into it (`into`) or out of it.
memory internal(const dnnl::engine& eng, const memory& user, const memory::desc& want, bool into,
                Reorder& r) {
  if (want == user.get_desc()) return user;
  memory m(want, eng);
  r.needed = true;
  r.from = into ? user : m;
  r.to = into ? m : user;
  r.prim = dnnl::reorder(r.from, r.to);
  return m;
}

}  // namespace

// The primitives of one geometry (batch size included) and thread count.
struct OnednnEntry {
  Conv2dGeometry q;
  int threads;
  // User memories: NCHW/OIHW over caller buffers, their pointers set per call.
  memory x, w, y, dy, dx, dw;
  std::vector<float> dw_fresh;  // bwd_weights overwrites: dL/dW of this call, then added
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_weights;
  Args fwd_args, data_args, weights_args;
  Reorder fwd_x, fwd_w, fwd_y, data_dy, data_w, data_dx, weights_x, weights_dy, weights_dw;
  // The weight pass reads the forward's blocked x (same layout, same buffer): the user buffer
  // whose copy that is, or null when there is none to reuse.
  bool weights_share_x = false;
  const float* blocked_x_of = nullptr;
};

struct Conv2dOnednn {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  // The most recently made last; a few batch sizes at most. Held by pointer: an entry's
  // memories point into its own dw_fresh, which must not move.
  std::vector<std::unique_ptr<OnednnEntry>> entries;
};

void Conv2dOnednnDeleter::operator()(Conv2dOnednn* p) const { delete p; }

namespace {

bool same_geometry(const Conv2dGeometry& a, const Conv2dGeometry& b) {
  return a.N == b.N && a.C == b.C && a.H == b.H && a.W == b.W && a.O == b.O && a.k == b.k &&
         a.s == b.s && a.p == b.p && a.g == b.g;
}

std::unique_ptr<OnednnEntry> make_entry(Conv2dOnednn& c, const Conv2dGeometry& q, int threads) {
  using tag = memory::format_tag;
  const auto f32 = memory::data_type::f32;
  const auto d = [](std::size_t v) { return memory::dim(v); };
  const memory::dims xd{d(q.N), d(q.C), d(q.H), d(q.W)}, wd{d(q.O), d(q.C), d(q.k), d(q.k)},
      yd{d(q.N), d(q.O), d(q.Ho), d(q.Wo)}, strides{d(q.s), d(q.s)}, pad{d(q.p), d(q.p)};
  // Right padding as oneDNN counts it: what the last output's window reaches past the input.
  const memory::dims pad_r{d((q.Ho - 1) * q.s + q.k - q.H - q.p),
                           d((q.Wo - 1) * q.s + q.k - q.W - q.p)};
  const memory::desc any_x(xd, f32, tag::any), any_w(wd, f32, tag::any), any_y(yd, f32, tag::any);
  const auto algo = dnnl::algorithm::convolution_direct;
  const dnnl::convolution_forward::primitive_desc fpd(
      {dnnl::prop_kind::forward_training, algo, any_x, any_w, any_y, strides, pad, pad_r}, c.eng);
  const dnnl::convolution_backward_data::primitive_desc dpd(
      {algo, any_x, any_w, any_y, strides, pad, pad_r}, c.eng, fpd);
  const dnnl::convolution_backward_weights::primitive_desc wpd(
      {algo, any_x, any_w, any_y, strides, pad, pad_r}, c.eng, fpd);

  auto entry = std::make_unique<OnednnEntry>();
  OnednnEntry& e = *entry;
  e.q = q;
  e.threads = threads;
  const memory::desc ux(xd, f32, tag::nchw), uw(wd, f32, tag::oihw), uy(yd, f32, tag::nchw);
  // Placeholder handles: each call points them at its buffers (set_data_handle).
  e.x = memory(ux, c.eng, DNNL_MEMORY_NONE);
  e.w = memory(uw, c.eng, DNNL_MEMORY_NONE);
  e.y = memory(uy, c.eng, DNNL_MEMORY_NONE);
  e.dy = memory(uy, c.eng, DNNL_MEMORY_NONE);
  e.dx = memory(ux, c.eng, DNNL_MEMORY_NONE);
  e.dw_fresh.resize(q.O * q.C * q.k * q.k);
  e.dw = memory(uw, c.eng, e.dw_fresh.data());

  e.fwd = dnnl::convolution_forward(fpd);
  e.fwd_args = {{DNNL_ARG_SRC, internal(c.eng, e.x, fpd.src_desc(), true, e.fwd_x)},
                {DNNL_ARG_WEIGHTS, internal(c.eng, e.w, fpd.weights_desc(), true, e.fwd_w)},
                {DNNL_ARG_DST, internal(c.eng, e.y, fpd.dst_desc(), false, e.fwd_y)}};
  e.bwd_weights = dnnl::convolution_backward_weights(wpd);
  const memory weights_dy = internal(c.eng, e.dy, wpd.diff_dst_desc(), true, e.weights_dy);
  e.weights_share_x = e.fwd_x.needed && wpd.src_desc() == fpd.src_desc();
  e.weights_args = {
      {DNNL_ARG_SRC, e.weights_share_x ? e.fwd_args.at(DNNL_ARG_SRC)
                                       : internal(c.eng, e.x, wpd.src_desc(), true, e.weights_x)},
      {DNNL_ARG_DIFF_DST, weights_dy},
      {DNNL_ARG_DIFF_WEIGHTS, internal(c.eng, e.dw, wpd.diff_weights_desc(), false, e.weights_dw)}};
  e.bwd_data = dnnl::convolution_backward_data(dpd);
  // The weight pass (run first) has put dy in the data pass's layout already when they agree.
  e.data_args = {
      {DNNL_ARG_DIFF_DST, dpd.diff_dst_desc() == wpd.diff_dst_desc()
                              ? weights_dy
                              : internal(c.eng, e.dy, dpd.diff_dst_desc(), true, e.data_dy)},
      {DNNL_ARG_WEIGHTS, internal(c.eng, e.w, dpd.weights_desc(), true, e.data_w)},
      {DNNL_ARG_DIFF_SRC, internal(c.eng, e.dx, dpd.diff_src_desc(), false, e.data_dx)}};
  return entry;
}

OnednnEntry& entry(Conv2dOnednnCache& cache, const Conv2dGeometry& q) {
  if (!cache) cache.reset(new Conv2dOnednn);
  auto& entries = cache->entries;
  const int threads = num_threads();
  for (const auto& e : entries)
    if (e->threads == threads && same_geometry(e->q, q)) return *e;
  // Training, its last short batch and evaluation: three batch sizes per layer at most.
  constexpr std::size_t kKept = 4;
  if (entries.size() == kKept) entries.erase(entries.begin());
  entries.push_back(make_entry(*cache, q, threads));
  return *entries.back();
}

}  // namespace

bool conv2d_onednn_supported(const Conv2dGeometry& q) { return q.g == 1; }

void conv2d_forward_onednn(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                           Conv2dOnednnCache& cache) {
  OnednnEntry& e = entry(cache, q);
  auto& s = cache->stream;
  e.x.set_data_handle(const_cast<float*>(x));
  e.w.set_data_handle(const_cast<float*>(w));
  e.y.set_data_handle(y);
  e.fwd_x.run(s);
  e.blocked_x_of = e.weights_share_x ? x : nullptr;
  e.fwd_w.run(s);
  e.fwd.execute(s, e.fwd_args);
  e.fwd_y.run(s);
  s.wait();
}

void conv2d_onednn_forget_input(Conv2dOnednnCache& cache) {
  if (cache)
    for (const auto& e : cache->entries) e->blocked_x_of = nullptr;
}

void conv2d_backward_onednn(float* dx, float* dw, const float* dy, const float* x, const float* w,
                            const Conv2dGeometry& q, Conv2dOnednnCache& cache, ConvInput input) {
  OnednnEntry& e = entry(cache, q);
  auto& s = cache->stream;
  e.x.set_data_handle(const_cast<float*>(x));
  e.w.set_data_handle(const_cast<float*>(w));
  e.dy.set_data_handle(const_cast<float*>(dy));
  if (e.weights_share_x) {
    // The shared buffer holds the last forward's x; anything else is reordered into it.
    if (input != ConvInput::forwarded || e.blocked_x_of != x) e.fwd_x.run(s);
    e.blocked_x_of = x;
  } else {
    e.weights_x.run(s);
  }
  e.weights_dy.run(s);
  e.bwd_weights.execute(s, e.weights_args);
  e.weights_dw.run(s);
  if (dx) {
    e.dx.set_data_handle(dx);
    e.data_dy.run(s);
    e.data_w.run(s);
    e.bwd_data.execute(s, e.data_args);
    e.data_dx.run(s);
  }
  s.wait();
  const std::size_t n = e.dw_fresh.size();
  for (std::size_t i = 0; i < n; ++i) dw[i] += e.dw_fresh[i];
}

}  // namespace qb
