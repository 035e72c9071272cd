#include "retort/core/status.h"

#include <gtest/gtest.h>

namespace retort {
namespace {

Expected<int> parse_positive(int v) {
  if (v <= 0) return make_error(ErrorCode::kInvalidArgument, "expected a positive value, got ", v);
  return v;
}

Status twice_positive(int v, int* out) {
  RETORT_ASSIGN_OR_RETURN(int checked, parse_positive(v));
  *out = checked * 2;
  return Status::Ok();
}

TEST(Status, ErrorCarriesCodeAndMessage) {
  Status s = make_error(ErrorCode::kNotFound, "no file '", "a.onnx", "'");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), "no file 'a.onnx'");
  EXPECT_EQ(s.with_context("recipe.json").message(), "recipe.json: no file 'a.onnx'");
}

TEST(Status, AssignOrReturnPropagatesTheFirstError) {
  int out = 0;
  EXPECT_TRUE(twice_positive(4, &out).ok());
  EXPECT_EQ(out, 8);
  Status bad = twice_positive(-3, &out);
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "expected a positive value, got -3");
  EXPECT_EQ(out, 8);
}

}  // namespace
}  // namespace retort
