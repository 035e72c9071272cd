#include "retort/distill/distiller.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "distill/distill_test_support.h"
#include "engine/op_check.h"
#include "retort/engine/trainer.h"

namespace retort::distill {
namespace {

using testing::build;
using testing::contains;
using testing::fashion;

constexpr int64_t kBatch = 6;

nlohmann::json small_cnn(int c1, int c2, int fc) {
  return {{"arch", "cnn"},
          {"blocks",
           {{{"conv", c1}, {"kernel", 3}, {"pad", "same"}},
            {{"conv", c2}, {"kernel", 3}, {"pool", 4}}}},
          {"fc", {fc}}};
}

DistillOptions base_options() {
  DistillOptions o;
  o.train.batch = kBatch;
  o.train.seed = 5;
  return o;
}

// d(total loss)/d(every sampled student weight) against central differences, through the
// whole student (and any regressor), on one fixed batch of real images.
void expect_student_gradient_matches(Model& student, std::vector<Model*> teachers,
                                     const DistillOptions& options) {
  const data::Dataset& set = fashion(data::Split::kTrain, kBatch);
  auto made = Distiller::create(student, teachers, set, options);
  ASSERT_TRUE(made.ok()) << made.status().message();
  Distiller& d = **made;
  // Random pixels, not real images: Fashion-MNIST's uniform backgrounds put thousands of
  // first-layer activations at one shared value, a kink no finite difference can step over.
  const Tensor images = retort::testing::random_tensor({kBatch, 1, 28, 28}, 17, 0.0f, 1.0f);
  const int64_t count = kBatch - 1;  // one padding row: it must not count
  auto loss = [&] {
    return static_cast<double>(
        d.loss_and_gradients(images.data<float>(), set.labels.data(), nullptr, count, 0.3, false));
  };
  const double base = loss();
  EXPECT_EQ(base, loss()) << "the same batch must give the same loss";
  std::vector<std::vector<float>> grads;
  for (const engine::Parameter& p : d.parameters())
    grads.emplace_back(p.grad.data, p.grad.data + p.grad.numel());
  // ReLU and max-pool make the loss piecewise smooth, and a step of eps on a 28x28 map crosses
  // a few kinks. The analytic gradient must match the central difference, or lie between
  // the one-sided differences where those disagree (a kink inside the step).
  int checked = 0, smooth = 0;
  for (size_t i = 0; i < d.parameters().size(); ++i) {
    const engine::Parameter& p = d.parameters()[i];
    const int64_t n = p.value.numel();
    for (int64_t k = 0; k < n; k += std::max<int64_t>(1, n / 5)) {
      float& w = p.value.data[k];
      const float saved = w;
      const float eps = 1e-3f;
      w = saved + eps;
      const double up = loss();
      w = saved - eps;
      const double down = loss();
      w = saved;
      const double forward = (up - base) / eps, backward = (base - down) / eps,
                   central = (up - down) / (2.0 * eps);
      const double tol = 2e-3 + 2e-2 * std::fabs(central);
      const double g = grads[i][k];
      ++checked;
      if (std::fabs(forward - backward) <= tol) {
        ++smooth;
        EXPECT_NEAR(g, central, tol) << p.name << "[" << k << "]";
      } else {
        EXPECT_GE(g, std::min(forward, backward) - tol) << p.name << "[" << k << "] at a kink";
        EXPECT_LE(g, std::max(forward, backward) + tol) << p.name << "[" << k << "] at a kink";
      }
    }
  }
  EXPECT_GE(smooth * 2, checked) << "too few smooth points to judge: " << smooth << " of "
                                 << checked;
  EXPECT_GT(checked, 20);
}

struct Pair {
  Model student = build(small_cnn(4, 4, 16), 1);
  Model teacher = build(small_cnn(6, 8, 24), 2);
};

TEST(DistillGradient, KdWithCrossEntropy) {
  Pair m;
  DistillOptions o = base_options();
  o.kd = KdTerm{};
  o.kd->alpha = 0.7f;
  o.kd->temperature = {4.0f, 1.0f, Temperature::Schedule::kLinear};
  expect_student_gradient_matches(m.student, {&m.teacher}, o);
}

TEST(DistillGradient, TwoTeachersWeightedByConfidence) {
  Pair m;
  Model second = build(small_cnn(3, 3, 8), 9);
  DistillOptions o = base_options();
  o.kd = KdTerm{};
  o.kd->mix = TeacherMix::kConfidence;
  expect_student_gradient_matches(m.student, {&m.teacher, &second}, o);
}

TEST(DistillGradient, HintsThroughConvAndLinearRegressors) {
  Pair m;
  DistillOptions o = base_options();
  o.ce = CeTerm{};
  o.hints.push_back({2.0f, 0, "conv1.relu", "conv1.relu", HintTerm::Distance::kMse});
  o.hints.push_back({0.5f, 0, "fc1.relu", "fc1.relu", HintTerm::Distance::kCosine});
  expect_student_gradient_matches(m.student, {&m.teacher}, o);
}

TEST(DistillGradient, AttentionTransfer) {
  Pair m;
  DistillOptions o = base_options();
  o.ce = CeTerm{};
  o.attention.push_back(
      {100.0f, 0, {{"conv1.relu", "conv1.relu"}, {"conv2.pool", "conv2.pool"}}, 2.0f});
  expect_student_gradient_matches(m.student, {&m.teacher}, o);
}

TEST(DistillGradient, RelationalDistanceAndAngle) {
  Pair m;
  DistillOptions o = base_options();
  o.ce = CeTerm{};
  o.rkd.push_back({0, "fc1.relu", "fc1.relu", 2.0f, 3.0f});
  expect_student_gradient_matches(m.student, {&m.teacher}, o);
}

TEST(DistillGradient, FlowOfSolutionProcedure) {
  Pair m;
  Model same_widths = build(small_cnn(4, 4, 32), 3);
  DistillOptions o = base_options();
  o.ce = CeTerm{};
  o.fsp.push_back({10.0f, 0, {{{"conv1", "conv1"}, {"conv2.relu", "conv2.relu"}}}});
  expect_student_gradient_matches(m.student, {&same_widths}, o);
}

TEST(Distill, SoftLossOnlyWithTheStudentAsTeacherIsZeroWithZeroGradient) {
  Model student = build(small_cnn(4, 4, 16), 1);
  Model teacher = build(small_cnn(4, 4, 16), 1);  // the same weights
  DistillOptions o = base_options();
  o.kd = KdTerm{};
  o.kd->alpha = 1.0f;
  o.kd->temperature = {4.0f, 4.0f, Temperature::Schedule::kConstant};
  const data::Dataset& set = fashion(data::Split::kTrain, kBatch);
  Model* teachers[] = {&teacher};
  auto d = Distiller::create(student, teachers, set, o);
  ASSERT_TRUE(d.ok()) << d.status().message();
  const float loss =
      (*d)->loss_and_gradients(set.sample(0), set.labels.data(), nullptr, kBatch, 0, false);
  EXPECT_NEAR(loss, 0.0f, 1e-6);
  for (const engine::Parameter& p : (*d)->parameters())
    for (int64_t k = 0; k < p.grad.numel(); ++k)
      ASSERT_NEAR(p.grad.data[k], 0.0f, 1e-6) << p.name << "[" << k << "]";
}

Status setup_error(Model& student, Model& teacher, const DistillOptions& o) {
  Model* teachers[] = {&teacher};
  return check_distill_setup(student, teachers, fashion(data::Split::kTrain, kBatch), o);
}

TEST(DistillSetup, TeacherWithOtherClassCountIsRejected) {
  Model student = build(small_cnn(4, 4, 16), 1);
  nlohmann::json spec = small_cnn(4, 4, 16);
  spec["classes"] = 5;
  Model teacher = build(spec, 2);
  DistillOptions o = base_options();
  o.kd = KdTerm{};
  const Status s = setup_error(student, teacher, o);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "teacher 0 has 5 classes but the student has 10"));
}

TEST(DistillSetup, HintNamingAMissingValueListsTheValuesThatExist) {
  Pair m;
  DistillOptions o = base_options();
  o.kd = KdTerm{};
  o.hints.push_back({1.0f, 0, "conv1.relu", "conv9", HintTerm::Distance::kMse});
  const Status s = setup_error(m.student, m.teacher, o);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(),
                       "hint term 0 names student value 'conv9', which the student does not have"));
  EXPECT_TRUE(contains(s.message(),
                       "its values are: input, normalize.sub, normalize.div, conv1, conv1.relu"));
  EXPECT_TRUE(contains(s.message(), "logits"));
}

TEST(DistillSetup, FeatureMapsOfDifferentSizeWithoutARegressorThatCanFixThem) {
  Pair m;
  DistillOptions o = base_options();
  o.kd = KdTerm{};
  o.hints.push_back({1.0f, 0, "conv1.relu", "conv2.pool", HintTerm::Distance::kMse});
  Status s = setup_error(m.student, m.teacher, o);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "[1, 4, 7, 7]")) << s.message();
  EXPECT_TRUE(contains(s.message(),
                       "differ in height or width; a 1x1-conv regressor only changes channels"));
  o.hints.clear();
  o.attention.push_back({1.0f, 0, {{"conv1", "conv2.pool"}}, 2.0f});
  s = setup_error(m.student, m.teacher, o);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "same height and width"));
  o.attention.clear();
  o.fsp.push_back({1.0f, 0, {{{"conv1", "conv1"}, {"conv2.relu", "conv2.relu"}}}});
  s = setup_error(m.student, m.teacher, o);  // teacher widths 6 and 8, student 4 and 4
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "student channels 4x4")) << s.message();
}

TEST(DistillSetup, NoLogitTermAndBadTeacherIndexAreRejected) {
  Pair m;
  DistillOptions o = base_options();
  o.hints.push_back({1.0f, 0, "conv1.relu", "conv1.relu", HintTerm::Distance::kMse});
  EXPECT_TRUE(
      contains(setup_error(m.student, m.teacher, o).message(), "add a \"kd\" or a \"ce\" term"));
  o.ce = CeTerm{};
  o.hints[0].teacher = 1;
  EXPECT_TRUE(contains(setup_error(m.student, m.teacher, o).message(),
                       "reads teacher 1 but there is 1 teacher"));
}

TEST(DistillLossTerms, JsonErrorsNameThePath) {
  DistillOptions o;
  Status s = parse_loss_terms(
      nlohmann::json::parse(
          R"([{"type": "kd"}, {"type": "hint", "student_value": "a", "teacher_value": "b", "alpha": 1}])"),
      "/stages/2/params", o);
  EXPECT_TRUE(contains(s.message(),
                       "/stages/2/params/losses/1/alpha: a \"hint\" term has no key \"alpha\""));
  o = {};
  s = parse_loss_terms(nlohmann::json::parse(R"([{"type": "kdd"}])"), "/params", o);
  EXPECT_TRUE(contains(s.message(), "/params/losses/0/type: unknown loss term \"kdd\""));
  o = {};
  s = parse_loss_terms(
      nlohmann::json::parse(R"([{"type": "kd", "temperature": {"start": 20, "end": 0}}])"),
      "/params", o);
  EXPECT_TRUE(contains(s.message(), "/params/losses/0/temperature: temperatures must be > 0"));
  o = {};
  s = parse_loss_terms(
      nlohmann::json::parse(R"([{"type": "attention", "pairs": [{"teacher": "x"}]}])"), "/p", o);
  EXPECT_TRUE(contains(s.message(), "/p/losses/0/pairs/0: missing \"student\""));
  o = {};
  s = parse_loss_terms(nlohmann::json::parse(R"([{"type": "kd", "teachers": "weighted"}])"), "/p",
                       o);
  EXPECT_TRUE(contains(s.message(), "teacher_weights"));
  o = {};
  ASSERT_TRUE(
      parse_loss_terms(
          nlohmann::json::parse(
              R"([{"type": "kd", "temperature": {"start": 8, "end": 2, "schedule": "cosine"}, "teacher_weights": [1, 3]},
                                       {"type": "fsp", "pairs": [{"student": ["a", "b"], "teacher": ["c", "d"]}]}])"),
          "/p", o)
          .ok());
  ASSERT_TRUE(o.kd.has_value());
  EXPECT_EQ(o.kd->mix, TeacherMix::kWeighted);
  EXPECT_EQ(o.kd->temperature.schedule, Temperature::Schedule::kCosine);
  ASSERT_EQ(o.fsp.size(), 1u);
  EXPECT_EQ(o.fsp[0].pairs[0].second.teacher, "d");
}

// A trained MLP teacher, shared by the training tests.
Model& mlp_teacher() {
  static Model teacher = [] {
    Model t = build({{"arch", "mlp"}, {"hidden", {256}}}, 11);
    engine::TrainOptions o;
    o.epochs = 3;
    o.batch = 64;
    o.seed = 11;
    auto r = engine::train_classifier(t, fashion(data::Split::kTrain, 3000), o);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return t;
  }();
  return teacher;
}

TEST(Distill, StudentLearnsFromTeacherAndTheSameSeedRepeatsBitForBit) {
  Model* teachers[] = {&mlp_teacher()};
  DistillOptions o;
  o.train.epochs = 3;
  o.train.batch = 64;
  o.train.seed = 4;
  o.kd = KdTerm{};
  o.kd->temperature = {4.0f, 4.0f, Temperature::Schedule::kConstant};
  // Tensor copies share storage, so the second student is built again, not copied.
  Model a = build({{"arch", "mlp"}, {"hidden", {64}}}, 4),
        b = build({{"arch", "mlp"}, {"hidden", {64}}}, 4);
  auto ra = distill(a, teachers, fashion(data::Split::kTrain, 3000), o);
  ASSERT_TRUE(ra.ok()) << ra.status().message();
  EXPECT_EQ(ra->teacher_logits_cached, std::vector<bool>{true});
  auto eval = engine::evaluate_classifier(a, fashion(data::Split::kTest, 1000));
  ASSERT_TRUE(eval.ok());
  EXPECT_GE(eval->accuracy, 0.75);
  auto rb = distill(b, teachers, fashion(data::Split::kTrain, 3000), o);
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(ra->train.epochs.back().loss, rb->train.epochs.back().loss);
  for (const auto& [name, w] : a.graph.initializers)
    EXPECT_EQ(std::memcmp(w.raw(), b.graph.initializers.at(name).raw(), w.nbytes()), 0) << name;
}

TEST(Distill, CachedTeacherLogitsGiveTheSameStudentAsRunningTheTeacher) {
  Model* teachers[] = {&mlp_teacher()};
  DistillOptions o;
  o.train.epochs = 1;
  o.train.batch = 50;
  o.train.seed = 2;
  o.kd = KdTerm{};
  Model a = build({{"arch", "mlp"}, {"hidden", {32}}}, 2),
        b = build({{"arch", "mlp"}, {"hidden", {32}}}, 2);
  ASSERT_TRUE(distill(a, teachers, fashion(data::Split::kTrain, 500), o).ok());
  o.cache_teacher_logits = false;
  auto rb = distill(b, teachers, fashion(data::Split::kTrain, 500), o);
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(rb->teacher_logits_cached, std::vector<bool>{false});
  for (const auto& [name, w] : a.graph.initializers) {
    const Tensor& other = b.graph.initializers.at(name);
    for (int64_t k = 0; k < w.numel(); ++k)
      ASSERT_NEAR(w.data<float>()[k], other.data<float>()[k], 1e-5) << name << "[" << k << "]";
  }
}

TEST(Distill, HintWarmupEpochsComeFirst) {
  Pair m;
  DistillOptions o;
  o.train.epochs = 1;
  o.train.batch = 32;
  o.hint_warmup_epochs = 1;
  o.kd = KdTerm{};
  o.hints.push_back({1.0f, 0, "conv1.relu", "conv1.relu", HintTerm::Distance::kMse});
  Model* teachers[] = {&m.teacher};
  auto r = distill(m.student, teachers, fashion(data::Split::kTrain, 256), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->train.epochs.size(), 2u);
  EXPECT_EQ(r->regressors, std::vector<std::string>{"hint 0: 1x1 conv 4->6"});
  EXPECT_EQ(r->teacher_logits_cached, std::vector<bool>{false});  // the hint reads the teacher
  ASSERT_EQ(r->final_terms.size(), 2u);
  EXPECT_EQ(r->final_terms[0].first, "kd");
  EXPECT_GT(r->final_terms[0].second, 0.0);
}

}  // namespace
}  // namespace retort::distill
