// oneDNN's fp32 convolution primitives (Debian's libdnnl 2.6, the library PyTorch 1.13's CPU
// convolutions call) behind conv2d_forward/backward, on qbench's NCHW tensors.
//
// oneDNN picks its own layouts (format_tag::any: blocked nChw8c activations and OIhw8i8o
// weights for its AVX2 kernels); qbench's tensors stay NCHW, so every call reorders its
// operands into those layouts and its result back, as PyTorch's NCHW convolutions do (save x
// in the weight-gradient pass, which can reuse the forward's copy: ConvInput). The
// primitives of one geometry and thread count are made once and kept (Conv2dOnednn), with the
// blocked buffers; oneDNN threads with OpenMP and fixes its thread count when a primitive is
// made, so a change of qbench's thread count remakes them. Results are reproducible for a
// thread count and ISA (oneDNN's static partition), not across them.
#pragma once

#include "engine/layers/conv2d_geometry.h"

#include <memory>

namespace qb {

struct Conv2dOnednn;  // primitives and blocked buffers for one geometry and thread count

// Deleting needs the type: made by conv2d_onednn.cpp alone.
struct Conv2dOnednnDeleter {
  void operator()(Conv2dOnednn* p) const;
};
using Conv2dOnednnCache = std::unique_ptr<Conv2dOnednn, Conv2dOnednnDeleter>;

// True where oneDNN is used for this geometry: ungrouped convolutions (depthwise and grouped
// ones stay on qbench's kernels).
bool conv2d_onednn_supported(const Conv2dGeometry& q);

// y = x ⊛ w overwritten; shapes as in conv2d_kernels.h.
void conv2d_forward_onednn(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                           Conv2dOnednnCache& cache);

// What backward may assume of its x. `forwarded`: x is the buffer the last forward through
// this cache read, and nothing has written it since (a layer's backward after its float
// forward, which reads the input the forward kept). Then, where the forward and weight-gradient
// primitives want x in the same blocked layout, the forward's copy is reused instead of reordering
// x again (one of the five activation-sized reorders a training step makes per convolution); the
// pointer is compared too, so a different buffer is reordered anyway.
enum class ConvInput { unknown, forwarded };

// A forward of this layer ran elsewhere (qbench's kernels): no blocked copy may be reused.
void conv2d_onednn_forget_input(Conv2dOnednnCache& cache);

// dx = dL/dx overwritten (skipped when null), dw += dL/dw.
void conv2d_backward_onednn(float* dx, float* dw, const float* dy, const float* x, const float* w,
                            const Conv2dGeometry& q, Conv2dOnednnCache& cache,
                            ConvInput input = ConvInput::unknown);

}  // namespace qb
