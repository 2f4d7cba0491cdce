#include "engine/acc16_counts.h"

#include "engine/int8/acc16_models.h"

namespace qb {

void exact_pair_lanes(int M, int N, int K, const std::uint8_t* A, const std::int8_t* W,
                      std::int32_t* exact, std::int32_t* pair_wrap, std::int32_t* lanes) {
  int8::gemm_exact_pair_lanes(M, N, K, A, K, W, K, exact, pair_wrap, lanes, N, int8::best_isa());
}

}  // namespace qb
