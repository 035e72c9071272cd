// A model's input contract. Models retort writes take raw pixels scaled to [0,1], NCHW; an
// imported model states what it expects instead, and bake_input_convention() prepends the
// conversion so that it too takes raw [0,1] pixels. The metadata also names the classes of the
// model's outputs (the training data's class names).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort {

inline constexpr const char* kInputConventionKey = "retort.input";
inline constexpr const char* kRawPixelsConvention = "NCHW float32 raw pixels in [0,1]";
// The classes a model's outputs stand for, in output order, as a JSON array of strings.
inline constexpr const char* kClassNamesKey = "retort.classes";

// Stores `names` under kClassNamesKey (an empty list removes the entry).
void set_class_names(Model& model, const std::vector<std::string>& names);
// The names stored under kClassNamesKey; empty when there are none or they are not a JSON
// array of strings.
std::vector<std::string> class_names(const Model& model);

// Prepends nodes so that `model` takes raw [0,1] pixels of shape [N, c, h, w]: multiply by
// `scale`, subtract `mean`, divide by `std` (1 or c values each), and flatten when the
// model's input is 2-D. The new constants are listed in kConstantsKey (never trained). Fails
// naming the input when its shape cannot take such images.
Status bake_input_convention(Model& model, int64_t c, int64_t h, int64_t w, float scale,
                             const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace retort
