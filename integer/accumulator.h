// The accumulator a run's integer dot products are computed in, and what it costs.
//
//   int32          exact (|Σ q·w| ≤ K·255·128 < 2^31 for K ≤ 65536)
//   wrap           16-bit, every add modulo 2^16                 (ARM smlal on int16 lanes)
//   saturate       16-bit, every add saturating                  (vpaddsw / vqadd)
//   pair-saturate  adjacent products summed saturating to int16, pairs summed in int32
//                  (vpmaddubsw, then widened: vpmaddwd with ones)
//   pair-wrap      adjacent products summed saturating to int16, pairs summed modulo 2^16
//                  (vpmaddubsw, then vpaddw: engine/int8/gemm.h's gemm_acc16)
//   lanes          8 int16 lanes, lane j adding products 2j, 2j+1 of every 16 modulo 2^16,
//                  widened and summed in int32 at the end (MNN's ARM kernel; OAQ's `lanes`)
// The 16-bit models are engine/int8/reference.h's Acc16, applied to the products in the
// order (ky, kx, ci) of the im2col row; that order matters for `saturate` and the pairings.
// Per layer a run counts the dot products computed, how many of them the model got wrong
// (its result differs from the exact sum), and the largest exact |Σ q·w| (bias excluded:
// it is added after the accumulator, in int32).
#pragma once

#include "engine/int8/reference.h"
#include "engine/names.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qb::integer {

enum class AccModel { int32, wrap, saturate, pair_saturate, pair_wrap, lanes };

// One row per model: its name and engine/int8's 16-bit model behind it (none for int32).
struct AccModelInfo {
  std::string_view name;
  AccModel value;
  std::optional<int8::Acc16> acc16;
};
inline constexpr AccModelInfo kAccModelRows[] = {
    {"int32", AccModel::int32, std::nullopt},
    {"wrap", AccModel::wrap, int8::Acc16::wrap},
    {"saturate", AccModel::saturate, int8::Acc16::saturate},
    {"pair-saturate", AccModel::pair_saturate, int8::Acc16::pair_saturate},
    {"pair-wrap", AccModel::pair_wrap, int8::Acc16::pair_wrap},
    {"lanes", AccModel::lanes, int8::Acc16::lanes}};
inline constexpr NameTable<AccModelInfo> kAccModels{"accumulator model", kAccModelRows};

inline constexpr AccModel kAllAccModels[] = {AccModel::int32,     AccModel::wrap,
                                             AccModel::saturate,  AccModel::pair_saturate,
                                             AccModel::pair_wrap, AccModel::lanes};
static_assert(std::size(kAllAccModels) == std::size(kAccModelRows));

inline const char* acc_model_name(AccModel m) { return kAccModels.row_of(m).name.data(); }
// The 16-bit model, or nothing for int32.
inline std::optional<int8::Acc16> as_acc16(AccModel m) { return kAccModels.row_of(m).acc16; }

struct OverflowStats {
  std::string layer;
  std::int64_t dot_products = 0;  // computed
  std::int64_t wrong = 0;         // whose accumulator result differs from the exact sum
  std::int64_t max_abs_sum = 0;   // largest exact |Σ q·w|
  void add(const OverflowStats& o);
};

}  // namespace qb::integer
