// kernels/ops.h: kept for includes that want the op parameter types (RopeLayout, ...): they live in backend.h.
#pragma once

#include "kernels/backend.h"
