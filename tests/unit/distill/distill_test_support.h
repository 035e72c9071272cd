// Shared by the distillation tests: small Fashion-MNIST slices and small models.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "support/test_support.h"

namespace retort::distill::testing {

using test_support::build;
using test_support::contains;
using test_support::fashion;

}  // namespace retort::distill::testing
