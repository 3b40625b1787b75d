// model/hparams.h: the model layer's names for the architecture row and hyperparameters, which arch/ owns.
#pragma once

#include "arch/hparams.h"

namespace strata::model {

using ArchInfo = arch::Arch;
using HParams = arch::HParams;
using arch::find_arch;
using arch::read_hparams;

}  // namespace strata::model
