// The CLI's progress display, rendered without a terminal: the exact bytes of each event, and
// the screen they leave once played through a small terminal emulator (cursor up, carriage
// return, erase line, erase below), which is what a user sees.
#include "cli/progress_render.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace retort::cli {
namespace {

using nlohmann::json;

// Just enough of a VT100 for the display: text, '\n' (as a tty's onlcr: next line, column 0),
// '\r', ESC[<n>A, ESC[2K and ESC[J.
class Screen {
 public:
  void play(const std::string& bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) {
      const char c = bytes[i];
      if (c == '\x1b') {
        ASSERT_LT(i + 1, bytes.size());
        ASSERT_EQ(bytes[i + 1], '[') << "unexpected escape in " << ::testing::PrintToString(bytes);
        size_t end = i + 2;
        while (end < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[end]))) ++end;
        ASSERT_LT(end, bytes.size());
        const std::string digits = bytes.substr(i + 2, end - i - 2);
        const int n = digits.empty() ? 1 : std::stoi(digits);
        switch (bytes[end]) {
          case 'A':
            ASSERT_GT(n, 0) << "ESC[0A moves one line on most terminals";
            row_ = row_ >= static_cast<size_t>(n) ? row_ - n : 0;
            break;
          case 'K':
            ASSERT_EQ(n, 2);
            line() = "";
            break;
          case 'J':
            line().resize(std::min(line().size(), col_));
            rows_.resize(row_ + 1);
            break;
          default:
            FAIL() << "unexpected escape ESC[" << digits << bytes[end];
        }
        i = end;
      } else if (c == '\n') {
        ++row_;
        col_ = 0;
      } else if (c == '\r') {
        col_ = 0;
      } else {
        std::string& l = line();
        if (l.size() < col_) l.resize(col_, ' ');
        if (col_ < l.size()) {
          l[col_] = c;
        } else {
          l.push_back(c);
        }
        ++col_;
      }
    }
  }
  // The screen's lines without trailing empty ones.
  std::vector<std::string> lines() const {
    std::vector<std::string> out = rows_;
    while (!out.empty() && out.back().empty()) out.pop_back();
    return out;
  }
  size_t row() const { return row_; }

 private:
  std::string& line() {
    if (rows_.size() <= row_) rows_.resize(row_ + 1);
    return rows_[row_];
  }
  std::vector<std::string> rows_;
  size_t row_ = 0;
  size_t col_ = 0;
};

exec::StageOutcome outcome(const std::string& id, exec::StageStatus status, double seconds,
                           const std::string& error = "") {
  exec::StageOutcome o;
  o.id = id;
  o.type = "train";
  o.status = status;
  o.seconds = seconds;
  o.error = error;
  return o;
}

const json kEpochOne = {{"epoch", 1},  {"epochs", 2},      {"step", 50},    {"steps", 100},
                        {"loss", 0.5}, {"accuracy", 0.75}, {"seconds", 5.0}};

TEST(ProgressRender, FormatsAProgressLine) {
  EXPECT_EQ(ProgressRenderer::format_progress("teacher", kEpochOne),
            "  teacher        epoch 1/2 step 50/100 loss 0.5000 acc 0.7500 eta 15s");
  EXPECT_EQ(ProgressRenderer::format_progress("eval", {{"step", 3}, {"steps", 9}}),
            "  eval           step 3/9");
}

TEST(ProgressRender, FinishedStageReplacesItsLiveLineAndOthersAreRedrawnBelow) {
  ProgressRenderer r(/*terminal=*/true, 200);
  Screen screen;
  screen.play(r.stage_started("teacher", "train"));
  screen.play(r.stage_started("student", "train"));
  screen.play(r.progress("teacher", kEpochOne));
  const json student = {{"epoch", 2}, {"epochs", 3}, {"step", 10}, {"steps", 20}, {"loss", 1.25}};
  screen.play(r.progress("student", student));
  EXPECT_EQ(screen.lines(),
            (std::vector<std::string>{ProgressRenderer::format_progress("teacher", kEpochOne),
                                      ProgressRenderer::format_progress("student", student)}));

  const std::string ended = r.stage_ended(outcome("teacher", exec::StageStatus::kRan, 12.34));
  // Up over the two live lines, the summary over the first, the other stage below it, and the
  // rest of the old block erased.
  EXPECT_EQ(ended, "\x1b[2A\r\x1b[2Kstage teacher ran in 12.3 s\n\x1b[2K" +
                       ProgressRenderer::format_progress("student", student) + "\n\x1b[J");
  screen.play(ended);
  EXPECT_EQ(screen.lines(),
            (std::vector<std::string>{"stage teacher ran in 12.3 s",
                                      ProgressRenderer::format_progress("student", student)}));

  // A log line goes above the live block; the block follows it.
  screen.play(r.log("student", "checkpoint written"));
  screen.play(r.progress("student", {{"step", 20}, {"steps", 20}, {"epoch", 3}, {"epochs", 3}}));
  screen.play(r.stage_ended(outcome("student", exec::StageStatus::kRan, 3)));
  EXPECT_EQ(screen.lines(),
            (std::vector<std::string>{"stage teacher ran in 12.3 s", "[student] checkpoint written",
                                      "stage student ran in 3.0 s"}));
  EXPECT_EQ(screen.row(), 3u);  // the cursor waits on the line after the last summary
  EXPECT_EQ(r.clear(), "");     // nothing left to erase
}

TEST(ProgressRender, ShorterLinesLeaveNoDebrisOfLongerOnes) {
  ProgressRenderer r(true, 200);
  Screen screen;
  screen.play(r.stage_started("a", "train"));
  screen.play(r.progress("a", kEpochOne));
  screen.play(r.progress("a", {{"step", 1}, {"steps", 2}}));
  EXPECT_EQ(screen.lines(), std::vector<std::string>{"  a              step 1/2"});
  screen.play(r.stage_ended(outcome("a", exec::StageStatus::kCached, 0)));
  EXPECT_EQ(screen.lines(), std::vector<std::string>{"stage a cached"});
}

TEST(ProgressRender, StartingStageShowsItsTypeAndLinesFitTheTerminal) {
  ProgressRenderer r(true, 40);
  Screen screen;
  screen.play(r.stage_started("teacher", "train"));
  EXPECT_EQ(screen.lines(), std::vector<std::string>{"  teacher        train starting"});
  r.set_columns(30);
  screen.play(r.progress("teacher", kEpochOne));
  ASSERT_EQ(screen.lines().size(), 1u);
  EXPECT_EQ(screen.lines()[0], "  teacher        epoch 1/2 st");  // 29 columns: never wraps
  // Summary lines are not cut.
  const std::string failed =
      r.stage_ended(outcome("teacher", exec::StageStatus::kFailed, 0.5,
                            "stage 'teacher' (train): loss became NaN at step 12"));
  screen.play(failed);
  EXPECT_EQ(screen.lines(),
            std::vector<std::string>{"stage teacher failed after 0.5 s: stage 'teacher' (train): "
                                     "loss became NaN at step 12"});
}

TEST(ProgressRender, ClearErasesTheLiveBlock) {
  ProgressRenderer r(true, 200);
  Screen screen;
  screen.play("$ retort run recipe.json\n");
  screen.play(r.stage_started("a", "train"));
  screen.play(r.stage_started("b", "evaluate"));
  screen.play(r.clear());
  EXPECT_EQ(screen.lines(), std::vector<std::string>{"$ retort run recipe.json"});
  EXPECT_EQ(screen.row(), 1u);
  EXPECT_EQ(r.remove("a"), "");  // forgotten by clear()
}

TEST(ProgressRender, RemoveDropsALiveLineWithoutASummary) {
  ProgressRenderer r(true, 200);
  Screen screen;
  screen.play(r.progress("train", kEpochOne));
  screen.play(r.remove("train"));
  EXPECT_TRUE(screen.lines().empty());
  EXPECT_EQ(screen.row(), 0u);
}

TEST(ProgressRender, PlainLinesWhenNotATerminal) {
  ProgressRenderer r(/*terminal=*/false);
  std::string out;
  out += r.stage_started("teacher", "train");
  out += r.progress("teacher", kEpochOne);  // mid-epoch: nothing
  out += r.progress("teacher", {{"epoch", 1}, {"epochs", 2}, {"step", 100}, {"steps", 100}});
  out += r.log("teacher", "saved");
  out += r.log("", "--jobs 4 is more than the 2 threads");
  out += r.stage_ended(outcome("teacher", exec::StageStatus::kRan, 61.04));
  out += r.stage_ended(outcome("export", exec::StageStatus::kNotRun, 0,
                               "not run: it depends on stage 'teacher', which failed"));
  out += r.clear();
  EXPECT_EQ(out,
            "stage teacher (train) started\n"
            "teacher        epoch 1/2 step 100/100\n"
            "[teacher] saved\n"
            "retort: --jobs 4 is more than the 2 threads\n"
            "stage teacher ran in 61.0 s\n"
            "stage export not run: it depends on stage 'teacher', which failed\n");
}

}  // namespace
}  // namespace retort::cli
