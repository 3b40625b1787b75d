// model/placement.cc: the one-backend placement.
#include "model/placement.h"

namespace strata::model {

Placement Placement::single(kernels::Backend& backend, const Model& m) {
  Placement p;
  p.backends = {&backend};
  p.decode_site.assign(m.tensors.size(), 0);
  p.prefill_site.assign(m.tensors.size(), 0);
  p.kv_site.assign(m.layers.size(), 0);
  return p;
}

}  // namespace strata::model
