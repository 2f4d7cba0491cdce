// Hook plumbing shared by Conv2d and Linear: three optional TensorHooks and the calls that
// route a tensor through one (or straight past it when the slot is empty).
#pragma once

#include "engine/hook.h"

#include <memory>

namespace qb {

struct HookSlots {
  std::shared_ptr<TensorHook> weight, input, grad;

  std::shared_ptr<TensorHook>& at(HookSlot s) {
    return s == HookSlot::weight ? weight : s == HookSlot::input ? input : grad;
  }
  TensorHook* get(HookSlot s) const {
    return (s == HookSlot::weight ? weight : s == HookSlot::input ? input : grad).get();
  }
  void collect_params(std::vector<Param*>& out) const {
    for (auto* h : {weight.get(), input.get(), grad.get()})
      if (h) h->collect_params(out);
  }
};

inline const Tensor& hook_forward(TensorHook* h, const Tensor& x, bool training) {
  return h ? h->forward(x, training) : x;
}

inline const Tensor& hook_backward(TensorHook* h, const Tensor& dy) {
  return h ? h->backward(dy) : dy;
}

}  // namespace qb
