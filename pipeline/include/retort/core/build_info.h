// Which build of retort is running: the release version and the git commit of its sources.
// Recorded in every stage manifest and report, so that a published number can be traced to
// the code that computed it (two builds of one version can round differently).
#pragma once

#include <string>
#include <string_view>

namespace retort {

// The release version, as in CMakeLists.txt's project(): "0.1.0".
std::string_view version();

// The git commit the build's sources came from, 12 hex digits, with "-dirty" when tracked
// files differed from it; "unknown" when built outside a git checkout (or without git).
std::string_view build_commit();

// "0.1.0 (commit 3ea8a92c1d2e)", or "0.1.0" when the commit is "unknown" or empty: how
// reports name a build, this one or one recorded in a file.
std::string describe_build(std::string_view version, std::string_view commit);

// describe_build() of this build.
std::string build_description();

}  // namespace retort
