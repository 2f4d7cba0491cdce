#include "engine/layer.h"

#include "engine/check.h"

namespace qb {

const char* to_string(LayerKind k) {
  switch (k) {
    case LayerKind::conv:
      return "conv";
    case LayerKind::linear:
      return "linear";
    case LayerKind::batchnorm:
      return "batchnorm";
    case LayerKind::relu:
      return "relu";
    case LayerKind::relu6:
      return "relu6";
    case LayerKind::maxpool:
      return "maxpool";
    case LayerKind::avgpool:
      return "avgpool";
    case LayerKind::global_avgpool:
      return "global_avgpool";
    case LayerKind::flatten:
      return "flatten";
    case LayerKind::sequential:
      return "sequential";
    case LayerKind::residual:
      return "residual";
    case LayerKind::shortcut:
      return "shortcut";
  }
  return "?";
}

void Layer::set_hook(HookSlot, std::shared_ptr<TensorHook>) {
  throw InternalError("layer " + name() + " (" + to_string(info_.kind) + ") has no hook slots");
}

}  // namespace qb
