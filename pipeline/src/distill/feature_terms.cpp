#include "feature_terms.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "retort/arch/graph_builder.h"
#include "retort/core/text.h"
#include "retort/engine/feature_losses.h"

namespace retort::distill {
namespace {

using engine::Plan;

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The view of a value, or an error listing the values the model does have.
Expected<View> find_value(Plan& plan, const Model& model, const std::string& name,
                          const std::string& who, const std::string& term) {
  auto v = plan.value(name);
  if (v.ok()) return v;
  return make_error(ErrorCode::kNotFound, term, " names ", who, " value '", name, "', which the ",
                    who, " does not have; its values are: ", join_names(value_names(model)));
}

Status check_teacher(int teacher, size_t count, const std::string& term) {
  if (teacher < 0 || static_cast<size_t>(teacher) >= count)
    return make_error(ErrorCode::kInvalidArgument, term, " reads teacher ", teacher, " but there ",
                      count == 1 ? "is 1 teacher" : "are " + std::to_string(count) + " teachers",
                      " (numbered from 0)");
  return Status::Ok();
}

bool same_spatial(const Shape& a, const Shape& b) {
  return a.size() == 4 && b.size() == 4 && a[2] == b[2] && a[3] == b[3];
}

// What bridges a student value to a teacher value of another shape; empty when none is needed.
Expected<std::string> regressor_for(const Shape& s, const Shape& t, const std::string& term) {
  if (s == t) return std::string();
  if (same_spatial(s, t)) return "1x1 conv " + std::to_string(s[1]) + "->" + std::to_string(t[1]);
  if (s.size() == 2 && t.size() == 2)
    return "linear " + std::to_string(s[1]) + "->" + std::to_string(t[1]);
  if (s.size() == 4 && t.size() == 4)
    return make_error(
        ErrorCode::kInvalidArgument, term, ": student feature map ", shape_to_string(s),
        " and teacher feature map ", shape_to_string(t),
        " differ in height or width; a 1x1-conv regressor only changes channels, so pair "
        "layers with the same spatial size");
  return make_error(ErrorCode::kInvalidArgument, term, ": student value of shape ",
                    shape_to_string(s), " cannot be regressed onto teacher value of shape ",
                    shape_to_string(t), "; pair two feature maps [N,C,H,W] or two vectors [N,F]");
}

void add_into(const View& dst, const View& src) {
  float* d = dst.data;
  const float* s = src.data;
  for (int64_t i = 0, n = dst.numel(); i < n; ++i) d[i] += s[i];
}

class HintFeature final : public FeatureTerm {
 public:
  HintFeature(const HintTerm& term, View student, View student_grad, View teacher)
      : term_(term), student_(student), student_grad_(student_grad), teacher_(teacher) {}

  Status add_regressor(const engine::OptimizerConfig& optimizer, uint64_t seed) {
    const Shape& s = student_.shape;
    const Shape& t = teacher_.shape;
    regressor_model_ = std::make_unique<Model>();
    arch::GraphBuilder b(*regressor_model_, engine::InitKind::kKaimingUniform, seed);
    std::string out;
    if (s.size() == 4) {
      const std::string x = b.input("x", {s[1], s[2], s[3]});
      arch::ConvOptions conv;
      conv.out_channels = t[1];
      conv.kernel = 1;
      RETORT_ASSIGN_OR_RETURN(out, b.conv("regressor", x, conv));
    } else {
      const std::string x = b.input("x", {s[1]});
      out = b.gemm("regressor", x, t[1]);
    }
    b.output(out);
    if (!b.status().ok()) return b.status().with_context("hint regressor");
    engine::PlanOptions po;
    po.batch = s[0];
    po.backward = true;
    po.input_grads = true;
    RETORT_ASSIGN_OR_RETURN(regressor_, Plan::compile(*regressor_model_, po));
    RETORT_ASSIGN_OR_RETURN(regressor_input_grad_, regressor_->grad("x"));
    RETORT_ASSIGN_OR_RETURN(optimizer_,
                            engine::Optimizer::create(optimizer, regressor_->parameters()));
    return Status::Ok();
  }

  const char* kind() const override { return "hint"; }

  float apply(int64_t count) override {
    if (!regressor_) return term_.weight * distance(student_, &student_grad_, count);
    std::memcpy(regressor_->input(0).data, student_.data,
                static_cast<size_t>(student_.numel()) * sizeof(float));
    regressor_->forward(true);
    const View out_grad = regressor_->output_grad(0);
    const float loss = distance(regressor_->output(0), &out_grad, count);
    regressor_->backward();
    add_into(student_grad_, regressor_input_grad_);
    return term_.weight * loss;
  }

  void step(float lr) override {
    if (optimizer_) optimizer_->step(lr);
  }

 private:
  float distance(const View& s, const View* grad, int64_t count) const {
    return term_.distance == HintTerm::Distance::kMse
               ? engine::hint_mse(s, teacher_, count, grad, term_.weight)
               : engine::hint_cosine(s, teacher_, count, grad, term_.weight);
  }

  HintTerm term_;
  View student_, student_grad_, teacher_;
  std::unique_ptr<Model> regressor_model_;
  std::unique_ptr<Plan> regressor_;
  View regressor_input_grad_;
  std::unique_ptr<engine::Optimizer> optimizer_;
};

struct BoundPair {
  View student, student_grad, teacher;
};

class AttentionFeature final : public FeatureTerm {
 public:
  AttentionFeature(const AttentionTerm& term, std::vector<BoundPair> pairs)
      : term_(term), pairs_(std::move(pairs)) {}
  const char* kind() const override { return "attention"; }
  float apply(int64_t count) override {
    float total = 0;
    for (const BoundPair& p : pairs_)
      total += engine::attention_transfer(p.student, p.teacher, count, term_.p, &p.student_grad,
                                          term_.weight);
    return term_.weight * total;
  }

 private:
  AttentionTerm term_;
  std::vector<BoundPair> pairs_;
};

class RkdFeature final : public FeatureTerm {
 public:
  RkdFeature(const RkdTerm& term, BoundPair pair)
      : term_(term),
        pair_(std::move(pair)),
        loss_(pair_.student.shape[0], pair_.student.numel() / pair_.student.shape[0],
              pair_.teacher.numel() / pair_.teacher.shape[0]) {}
  const char* kind() const override { return "rkd"; }
  float apply(int64_t count) override {
    float total = 0;
    if (term_.distance_weight > 0)
      total += term_.distance_weight * loss_.distance(pair_.student, pair_.teacher, count,
                                                      &pair_.student_grad, term_.distance_weight);
    if (term_.angle_weight > 0)
      total += term_.angle_weight * loss_.angle(pair_.student, pair_.teacher, count,
                                                &pair_.student_grad, term_.angle_weight);
    return total;
  }

 private:
  RkdTerm term_;
  BoundPair pair_;
  engine::RkdLoss loss_;
};

class FspFeature final : public FeatureTerm {
 public:
  struct Bound {
    BoundPair first, second;
    std::unique_ptr<engine::FspLoss> loss;
  };
  FspFeature(const FspTerm& term, std::vector<Bound> pairs)
      : term_(term), pairs_(std::move(pairs)) {}
  const char* kind() const override { return "fsp"; }
  float apply(int64_t count) override {
    float total = 0;
    for (Bound& p : pairs_)
      total += p.loss->compute(p.first.student, p.second.student, p.first.teacher, p.second.teacher,
                               count, &p.first.student_grad, &p.second.student_grad, term_.weight);
    return term_.weight * total;
  }

 private:
  FspTerm term_;
  std::vector<Bound> pairs_;
};

// Binds a (teacher value, student value) pair: the views, with the student's gradient.
Expected<BoundPair> bind_pair(const ValuePair& names, Plan& student, Plan* teacher) {
  BoundPair p;
  RETORT_ASSIGN_OR_RETURN(p.student, student.value(names.student));
  RETORT_ASSIGN_OR_RETURN(p.student_grad, student.grad(names.student));
  RETORT_ASSIGN_OR_RETURN(p.teacher, teacher->value(names.teacher));
  return p;
}

}  // namespace

std::vector<std::string> value_names(const Model& model) {
  std::vector<std::string> names;
  for (const ValueInfo& in : model.graph.inputs) names.push_back(in.name);
  for (const Node& node : model.graph.nodes)
    for (const std::string& out : node.outputs)
      if (!out.empty()) names.push_back(out);
  return names;
}

namespace {

// Calls fn(teacher index, student value, teacher value) for every pair of values a feature
// term reads: the one list of term kinds that student_values and teacher_values both walk.
template <typename Fn>
void for_each_value_pair(const DistillOptions& options, Fn fn) {
  for (const HintTerm& h : options.hints) fn(h.teacher, h.student_value, h.teacher_value);
  for (const AttentionTerm& a : options.attention)
    for (const ValuePair& p : a.pairs) fn(a.teacher, p.student, p.teacher);
  for (const RkdTerm& r : options.rkd) fn(r.teacher, r.student_value, r.teacher_value);
  for (const FspTerm& f : options.fsp)
    for (const FspTerm::Pair& p : f.pairs) {
      fn(f.teacher, p.first.student, p.first.teacher);
      fn(f.teacher, p.second.student, p.second.teacher);
    }
}

void add_once(std::vector<std::string>& names, const std::string& name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
}

}  // namespace

std::vector<std::string> student_values(const DistillOptions& options) {
  std::vector<std::string> names;
  for_each_value_pair(options, [&](int, const std::string& student, const std::string&) {
    add_once(names, student);
  });
  return names;
}

std::vector<std::string> teacher_values(const DistillOptions& options, int teacher) {
  std::vector<std::string> names;
  for_each_value_pair(options, [&](int t, const std::string&, const std::string& value) {
    if (t == teacher) add_once(names, value);
  });
  return names;
}

Status check_feature_terms(const DistillOptions& options, Plan& student, const Model& student_model,
                           std::span<Plan* const> teachers,
                           std::span<Model* const> teacher_models) {
  // Shapes of a pair, each looked up with an error listing the names that exist.
  auto shapes = [&](const ValuePair& pair, int teacher,
                    const std::string& term) -> Expected<std::pair<Shape, Shape>> {
    RETORT_RETURN_IF_ERROR(check_teacher(teacher, teachers.size(), term));
    RETORT_ASSIGN_OR_RETURN(View s,
                            find_value(student, student_model, pair.student, "student", term));
    RETORT_ASSIGN_OR_RETURN(View t,
                            find_value(*teachers[teacher], *teacher_models[teacher], pair.teacher,
                                       "teacher " + std::to_string(teacher), term));
    return std::make_pair(s.shape, t.shape);
  };
  for (size_t i = 0; i < options.hints.size(); ++i) {
    const HintTerm& h = options.hints[i];
    const std::string term = "hint term " + std::to_string(i);
    RETORT_ASSIGN_OR_RETURN(auto st, shapes({h.teacher_value, h.student_value}, h.teacher, term));
    RETORT_RETURN_IF_ERROR(regressor_for(st.first, st.second, term).status());
  }
  for (size_t i = 0; i < options.attention.size(); ++i) {
    const AttentionTerm& a = options.attention[i];
    const std::string term = "attention term " + std::to_string(i);
    if (a.pairs.empty()) return make_error(ErrorCode::kInvalidArgument, term, " pairs no values");
    for (const ValuePair& p : a.pairs) {
      RETORT_ASSIGN_OR_RETURN(auto st, shapes(p, a.teacher, term));
      if (!same_spatial(st.first, st.second))
        return make_error(
            ErrorCode::kInvalidArgument, term, ": student '", p.student, "' ",
            shape_to_string(st.first), " and teacher '", p.teacher, "' ",
            shape_to_string(st.second),
            " must both be feature maps [N,C,H,W] of the same height and width (channels may "
            "differ)");
    }
  }
  for (size_t i = 0; i < options.rkd.size(); ++i) {
    const RkdTerm& r = options.rkd[i];
    RETORT_RETURN_IF_ERROR(
        shapes({r.teacher_value, r.student_value}, r.teacher, "rkd term " + std::to_string(i))
            .status());
  }
  for (size_t i = 0; i < options.fsp.size(); ++i) {
    const FspTerm& f = options.fsp[i];
    const std::string term = "fsp term " + std::to_string(i);
    if (f.pairs.empty()) return make_error(ErrorCode::kInvalidArgument, term, " pairs no layers");
    for (const FspTerm::Pair& p : f.pairs) {
      RETORT_ASSIGN_OR_RETURN(auto a, shapes(p.first, f.teacher, term));
      RETORT_ASSIGN_OR_RETURN(auto b, shapes(p.second, f.teacher, term));
      if (!same_spatial(a.first, b.first) || !same_spatial(a.second, b.second))
        return make_error(ErrorCode::kInvalidArgument, term,
                          ": an FSP matrix needs two feature maps of the same "
                          "height and width; student '",
                          p.first.student, "' ", shape_to_string(a.first), " vs '",
                          p.second.student, "' ", shape_to_string(b.first), ", teacher '",
                          p.first.teacher, "' ", shape_to_string(a.second), " vs '",
                          p.second.teacher, "' ", shape_to_string(b.second));
      if (a.first[1] != a.second[1] || b.first[1] != b.second[1] ||
          !same_spatial(a.first, a.second))
        return make_error(ErrorCode::kInvalidArgument, term,
                          ": student and teacher FSP matrices must have the "
                          "same size; student channels ",
                          a.first[1], "x", b.first[1], " at ", a.first[2], "x", a.first[3],
                          ", teacher channels ", a.second[1], "x", b.second[1], " at ", a.second[2],
                          "x", a.second[3], "; pair layers of equal width and size");
    }
  }
  return Status::Ok();
}

Expected<std::vector<std::unique_ptr<FeatureTerm>>> make_feature_terms(
    const DistillOptions& options, Plan& student, std::span<Plan* const> teachers,
    std::vector<std::string>& regressors) {
  std::vector<std::unique_ptr<FeatureTerm>> terms;
  for (size_t i = 0; i < options.hints.size(); ++i) {
    const HintTerm& h = options.hints[i];
    RETORT_ASSIGN_OR_RETURN(
        BoundPair p, bind_pair({h.teacher_value, h.student_value}, student, teachers[h.teacher]));
    auto term = std::make_unique<HintFeature>(h, p.student, p.student_grad, p.teacher);
    RETORT_ASSIGN_OR_RETURN(std::string regressor,
                            regressor_for(p.student.shape, p.teacher.shape, "hint"));
    if (!regressor.empty()) {
      RETORT_RETURN_IF_ERROR(
          term->add_regressor(options.train.optimizer,
                              engine::derive_seed(options.train.seed, "hint" + std::to_string(i))));
      regressors.push_back("hint " + std::to_string(i) + ": " + regressor);
    }
    terms.push_back(std::move(term));
  }
  for (const AttentionTerm& a : options.attention) {
    std::vector<BoundPair> pairs;
    for (const ValuePair& names : a.pairs) {
      RETORT_ASSIGN_OR_RETURN(BoundPair p, bind_pair(names, student, teachers[a.teacher]));
      pairs.push_back(p);
    }
    terms.push_back(std::make_unique<AttentionFeature>(a, std::move(pairs)));
  }
  for (const RkdTerm& r : options.rkd) {
    RETORT_ASSIGN_OR_RETURN(
        BoundPair p, bind_pair({r.teacher_value, r.student_value}, student, teachers[r.teacher]));
    terms.push_back(std::make_unique<RkdFeature>(r, p));
  }
  for (const FspTerm& f : options.fsp) {
    std::vector<FspFeature::Bound> pairs;
    for (const FspTerm::Pair& names : f.pairs) {
      FspFeature::Bound b;
      RETORT_ASSIGN_OR_RETURN(b.first, bind_pair(names.first, student, teachers[f.teacher]));
      RETORT_ASSIGN_OR_RETURN(b.second, bind_pair(names.second, student, teachers[f.teacher]));
      b.loss =
          std::make_unique<engine::FspLoss>(b.first.student.shape[1], b.second.student.shape[1]);
      pairs.push_back(std::move(b));
    }
    terms.push_back(std::make_unique<FspFeature>(f, std::move(pairs)));
  }
  return terms;
}

}  // namespace retort::distill
