// Student initialisation from a teacher, per-class bias correction, ensembles and mutual
// learning.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "distill/distill_test_support.h"
#include "retort/distill/class_bias.h"
#include "retort/distill/distiller.h"
#include "retort/distill/ensemble.h"
#include "retort/distill/mutual.h"
#include "retort/distill/student_init.h"
#include "retort/engine/plan.h"
#include "retort/engine/trainer.h"

namespace retort::distill {
namespace {

using testing::build;
using testing::contains;
using testing::fashion;

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(StudentInit, CopiesEvenlySpacedTeacherLayersWhoseShapesMatch) {
  Model teacher = build({{"arch", "mlp"}, {"hidden", {64, 48, 32}}}, 1);
  Model student = build({{"arch", "mlp"}, {"hidden", {64, 32}}}, 2);
  const Tensor fc2_before = student.graph.initializers.at("fc2.weight").clone();
  auto r = init_student_from_teacher(student, teacher);
  ASSERT_TRUE(r.ok()) << r.status().message();
  // Student layers 0, 1, 2 take teacher layers 0, 2 (round(1.5)), 3.
  EXPECT_EQ(r->copied,
            (std::vector<std::string>{"student fc1 <- teacher fc1", "student fc3 <- teacher fc4"}));
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_TRUE(
      contains(r->skipped[0], "student fc2 [[32, 64] [32]] vs teacher fc3 [[32, 48] [32]]"));
  EXPECT_TRUE(same_tensor(student.graph.initializers.at("fc1.weight"),
                          teacher.graph.initializers.at("fc1.weight")));
  EXPECT_TRUE(same_tensor(student.graph.initializers.at("fc3.bias"),
                          teacher.graph.initializers.at("fc4.bias")));
  EXPECT_TRUE(same_tensor(student.graph.initializers.at("fc2.weight"), fc2_before));
}

TEST(StudentInit, NothingToCopyIsAnErrorThatShowsTheShapes) {
  Model teacher = build({{"arch", "mlp"}, {"hidden", {100}}}, 1);
  Model student = build({{"arch", "mlp"}, {"hidden", {50}}}, 2);
  auto r = init_student_from_teacher(student, teacher);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(),
                       "student fc1 [[50, 784] [50]] vs teacher fc1 [[100, 784] [100]]"));
}

TEST(ClassBias, AddsTheBiasToTheLogitsAndIsNotTrainable) {
  Model m = build({{"arch", "mlp"}, {"hidden", {16}}}, 3);
  const data::Dataset& set = fashion(data::Split::kTest, 4);
  auto logits_of = [&](Model& model) {
    engine::PlanOptions po;
    po.batch = 4;
    auto plan = engine::Plan::compile(model, po);
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    std::memcpy((*plan)->input(0).data, set.sample(0), 4 * 784 * sizeof(float));
    (*plan)->forward(false);
    const engine::View out = (*plan)->output(0);
    return std::vector<float>(out.data, out.data + out.numel());
  };
  const std::vector<float> before = logits_of(m);
  const size_t params_before = m.learnable_parameters().size();
  std::vector<float> bias(10, 0.0f);
  bias[3] = 3.5f;
  ASSERT_TRUE(add_class_bias(m, bias).ok());
  const std::vector<float> after = logits_of(m);
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_NEAR(after[i] - before[i], i % 10 == 3 ? 3.5f : 0.0f, 1e-5) << i;
  EXPECT_EQ(m.learnable_parameters().size(), params_before);
  EXPECT_EQ(m.graph.outputs[0].name, "logits");
}

TEST(ClassBias, FittingRecoversAClassTheStudentNeverSaw) {
  // Hinton et al. sec. 3 in small: distil without class 1 (trousers) from a teacher that knows
  // it; the student's trouser logit carries the teacher's dark knowledge but sits too low.
  Model teacher = build({{"arch", "mlp"}, {"hidden", {128}}}, 4);
  engine::TrainOptions o;
  o.epochs = 2;
  o.batch = 64;
  o.seed = 5;
  ASSERT_TRUE(engine::train_classifier(teacher, fashion(data::Split::kTrain, 3000), o).ok());
  auto transfer = data::filter_classes(fashion(data::Split::kTrain, 3000), {1});
  ASSERT_TRUE(transfer.ok());
  Model m = build({{"arch", "mlp"}, {"hidden", {64}}}, 5);
  DistillOptions d;
  d.train = o;
  d.kd = KdTerm{};
  d.kd->temperature = {8.0f, 8.0f, Temperature::Schedule::kConstant};
  Model* teachers[] = {&teacher};
  ASSERT_TRUE(distill(m, teachers, *transfer, d).ok());
  auto before = engine::evaluate_classifier(m, fashion(data::Split::kTest, 1000));
  ASSERT_TRUE(before.ok());
  EXPECT_LT(before->per_class_accuracy[1], 0.05);
  auto bias = fit_class_bias(m, fashion(data::Split::kTrain, 3000), {1});
  ASSERT_TRUE(bias.ok()) << bias.status().message();
  EXPECT_GT((*bias)[1], 0.0f);
  for (int c = 0; c < 10; ++c) {
    if (c != 1) {
      EXPECT_EQ((*bias)[c], 0.0f);
    }
  }
  ASSERT_TRUE(add_class_bias(m, *bias).ok());
  auto after = engine::evaluate_classifier(m, fashion(data::Split::kTest, 1000));
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->per_class_accuracy[1], before->per_class_accuracy[1] + 0.2)
      << "bias " << (*bias)[1];
  EXPECT_GT(after->accuracy, before->accuracy);
}

TEST(Ensemble, OfOneModelTwiceIsThatModel) {
  Model m = build({{"arch", "mlp"}, {"hidden", {32}}}, 6);
  engine::TrainOptions o;
  o.epochs = 1;
  o.batch = 50;
  ASSERT_TRUE(engine::train_classifier(m, fashion(data::Split::kTrain, 500), o).ok());
  Model* members[] = {&m, &m};
  auto e = evaluate_ensemble(members, fashion(data::Split::kTest, 300));
  auto single = engine::evaluate_classifier(m, fashion(data::Split::kTest, 300));
  ASSERT_TRUE(e.ok() && single.ok());
  EXPECT_EQ(e->accuracy, single->accuracy);
  EXPECT_NEAR(e->loss, single->loss, 1e-5);
  Model other = build({{"arch", "mlp"}, {"hidden", {32}}, {"classes", 5}}, 6);
  Model* mixed[] = {&m, &other};
  EXPECT_TRUE(contains(evaluate_ensemble(mixed, fashion(data::Split::kTest, 10)).status().message(),
                       "every member must output the same [N, classes]"));
}

TEST(Mutual, WithoutTheKlTermEachStudentTrainsAsAlone) {
  engine::TrainOptions o;
  o.epochs = 1;
  o.batch = 50;
  o.seed = 8;
  Model a = build({{"arch", "mlp"}, {"hidden", {32}}}, 8),
        b = build({{"arch", "mlp"}, {"hidden", {16}}}, 9);
  Model alone = build({{"arch", "mlp"}, {"hidden", {32}}}, 8);  // copies would share storage
  MutualOptions mo;
  mo.train = o;
  mo.kl_weight = 0;
  Model* students[] = {&a, &b};
  ASSERT_TRUE(train_mutual(students, fashion(data::Split::kTrain, 500), mo).ok());
  ASSERT_TRUE(engine::train_classifier(alone, fashion(data::Split::kTrain, 500), o).ok());
  for (const auto& [name, w] : a.graph.initializers)
    EXPECT_TRUE(same_tensor(w, alone.graph.initializers.at(name))) << name;
}

// Mean KL between two models' predictions on the test slice.
double disagreement(Model& a, Model& b) {
  const data::Dataset& set = fashion(data::Split::kTest, 500);
  engine::PlanOptions po;
  po.batch = 500;
  auto pa = engine::Plan::compile(a, po), pb = engine::Plan::compile(b, po);
  std::memcpy((*pa)->input(0).data, set.sample(0), 500 * 784 * sizeof(float));
  std::memcpy((*pb)->input(0).data, set.sample(0), 500 * 784 * sizeof(float));
  (*pa)->forward(false);
  (*pb)->forward(false);
  double kl = 0;
  for (int i = 0; i < 500; ++i) {
    const float *x = (*pa)->output(0).data + i * 10, *y = (*pb)->output(0).data + i * 10;
    double sx = 0, sy = 0;
    for (int j = 0; j < 10; ++j) sx += std::exp(x[j]), sy += std::exp(y[j]);
    for (int j = 0; j < 10; ++j) {
      const double p = std::exp(x[j]) / sx, q = std::exp(y[j]) / sy;
      kl += p * std::log(p / q) / 500;
    }
  }
  return kl;
}

TEST(Mutual, StudentsLearnAndAgreeMoreThanWhenTrainedApart) {
  MutualOptions mo;
  mo.train.epochs = 3;
  mo.train.batch = 50;
  mo.train.seed = 3;
  auto pair = [] {
    return std::make_pair(build({{"arch", "mlp"}, {"hidden", {48}}}, 1),
                          build({{"arch", "mlp"}, {"hidden", {24}}}, 2));
  };
  auto [a, b] = pair();
  Model* students[] = {&a, &b};
  auto r = train_mutual(students, fashion(data::Split::kTrain, 2000), mo);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->students.size(), 2u);
  auto [c, d] = pair();
  mo.kl_weight = 0;
  Model* apart[] = {&c, &d};
  ASSERT_TRUE(train_mutual(apart, fashion(data::Split::kTrain, 2000), mo).ok());
  EXPECT_LT(disagreement(a, b), disagreement(c, d));
  for (Model* m : students) {
    auto e = engine::evaluate_classifier(*m, fashion(data::Split::kTest, 500));
    ASSERT_TRUE(e.ok());
    EXPECT_GE(e->accuracy, 0.65);
  }
  Model* one[] = {&a};
  EXPECT_TRUE(contains(train_mutual(one, fashion(data::Split::kTrain, 100), mo).status().message(),
                       "at least 2 students"));
}

}  // namespace
}  // namespace retort::distill
