// codenet-fpga HLS kernels: every kernel family of the CoDeNet dataflow accelerator.
//
// Header-only, templated: geometry and folding are template parameters, the image or vector count
// a run-time argument (as FINN's numReps). Integer semantics: codenet.host.intops, bit for bit.
#ifndef CODENET_CODENET_HPP
#define CODENET_CODENET_HPP

#include "common.hpp"
#include "deformable_dw.hpp"
#include "duplicate.hpp"
#include "mvau.hpp"
#include "padding.hpp"
#include "requant.hpp"
#include "stream_tools.hpp"
#include "upsample.hpp"
#include "vvau.hpp"
#include "window.hpp"

#endif
