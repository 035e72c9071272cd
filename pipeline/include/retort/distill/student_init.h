// Starting a student from its teacher's weights where the shapes allow (DistilBERT took one
// teacher layer in two). Layers are the weighted nodes (Conv, Gemm, MatMul) in graph order;
// student layer i takes teacher layer round(i * (Lt - 1) / (Ls - 1)), so the first maps to
// the first, the classifier to the classifier, and the rest spread evenly. A layer is copied
// when every weight tensor of it (and of a BatchNormalization right after it) has the same
// shape in both; other layers keep their initialisation.
#pragma once

#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::distill {

struct InitFromTeacher {
  std::vector<std::string> copied;   // "student conv2 <- teacher conv3"
  std::vector<std::string> skipped;  // "student fc1: [800,784] vs teacher fc2 [1200,784]"
};

// Fails when no layer at all could be copied (the report lists why for each one).
Expected<InitFromTeacher> init_student_from_teacher(Model& student, const Model& teacher);

}  // namespace retort::distill
