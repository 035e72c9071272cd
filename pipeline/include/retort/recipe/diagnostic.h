// One problem found in a recipe, located by JSON pointer (or line and column for syntax). The
// type is shared with the JSON-schema checker (retort/core/json_schema.h).
#pragma once

#include "retort/core/diagnostic.h"

namespace retort::recipe {

using ::retort::Diagnostic;
using ::retort::format_diagnostics;

}  // namespace retort::recipe
