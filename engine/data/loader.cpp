#include "engine/data/loader.h"

#include "engine/check.h"
#include "engine/rng.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace qb {

BatchLoader::BatchLoader(const Dataset& data, std::size_t batch, bool shuffle, bool augment,
                         std::uint64_t seed)
    : data_(data), batch_(batch), shuffle_(shuffle), augment_(augment), seed_(seed) {
  QB_CHECK_GT(batch, 0u);
  order_.resize(data.size());
}

std::size_t BatchLoader::num_batches() const { return (data_.size() + batch_ - 1) / batch_; }

void BatchLoader::start_epoch(std::size_t epoch) {
  epoch_ = epoch;
  pos_ = 0;
  std::iota(order_.begin(), order_.end(), 0u);
  if (!shuffle_) return;
  Rng rng(derive_seed(seed_, {0x5EED, epoch}));
  for (std::size_t i = order_.size(); i > 1; --i)
    std::swap(order_[i - 1], order_[rng.uniform_int(i)]);
}

bool BatchLoader::next(Tensor& images, std::vector<std::int32_t>& labels) {
  if (pos_ >= data_.size()) return false;
  const std::size_t n = std::min(batch_, data_.size() - pos_);
  const Shape s = data_.sample_shape();
  const std::size_t C = s[0], H = s[1], W = s[2], plane = H * W, sample = C * plane;
  ensure_shape(images, {n, C, H, W});
  labels.resize(n);
  const float* src = data_.images.data();
  float* dst = images.data();
  for (std::size_t b = 0; b < n; ++b) {
    const std::size_t idx = order_[pos_ + b];
    labels[b] = data_.labels[idx];
    const float* in = src + idx * sample;
    float* out = dst + b * sample;
    if (!augment_) {
      std::memcpy(out, in, sample * sizeof(float));
      continue;
    }
    Rng rng(derive_seed(seed_, {0xA06, epoch_, pos_ + b}));
    const long dy = long(rng.uniform_int(9)) - 4, dx = long(rng.uniform_int(9)) - 4;
    const bool flip = rng.uniform_int(2) == 1;
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t h = 0; h < H; ++h) {
        const long sh = long(h) + dy;
        float* row = out + c * plane + h * W;
        if (sh < 0 || sh >= long(H)) {
          std::fill(row, row + W, 0.0f);
          continue;
        }
        const float* srow = in + c * plane + std::size_t(sh) * W;
        for (std::size_t w = 0; w < W; ++w) {
          const long sw = long(flip ? W - 1 - w : w) + dx;
          row[w] = (sw < 0 || sw >= long(W)) ? 0.0f : srow[sw];
        }
      }
  }
  pos_ += n;
  return true;
}

}  // namespace qb
