// Iterates a Dataset in batches for training and evaluation. When a core is free for it,
// batches are prepared ahead of the step that needs them on one TBB worker; otherwise each is
// prepared inside next() by the caller's OpenMP team. Either way into a small ring of buffers
// allocated once: nothing is allocated per batch. Order and augmentation depend only on
// (seed, epoch), never on thread timing, so every mode gives exactly the same batches.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include "retort/core/status.h"
#include "retort/core/tensor.h"
#include "retort/data/augment.h"
#include "retort/data/dataset.h"

namespace retort::data {

struct LoaderOptions {
  int64_t batch_size = 128;
  // Visit samples in a random order, a new one each epoch (derived from seed and epoch).
  bool shuffle = true;
  uint64_t seed = 0;
  // Skip the last batch when it would be smaller than batch_size.
  bool drop_last = false;
  AugmentOptions augment;
  // Batches prepared ahead by the background worker (0..8); 0 prepares each batch inside
  // next(), split over the caller's OpenMP threads. kAutoPrefetch: 2 when the process has a
  // CPU that its compute leaves free (usable_cpus() > compute_threads()), else 0. On a
  // machine whose cores all compute, a worker preparing ahead preempts an OpenMP thread and
  // its whole team waits: measured on 2 cores, 7% slower per training step than preparing
  // the batch in next() (bench/README.md).
  static constexpr int kAutoPrefetch = -1;
  int prefetch = kAutoPrefetch;
};

// One batch, valid until the next call to next() or start_epoch() on its loader.
// The buffers always hold `capacity` (= batch_size) rows; rows from `size` on are zero.
struct Batch {
  const float* images = nullptr;     // [capacity, C, H, W], pixels in [0, 1]
  const int32_t* labels = nullptr;   // [capacity]
  const int64_t* indices = nullptr;  // [size]: dataset index of each real row
  int64_t size = 0;                  // real samples (the last batch may be short)
  int64_t capacity = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t index = 0;  // batch number within the epoch
  int epoch = 0;

  int64_t sample_numel() const { return channels * height * width; }
  std::span<const float> image_span() const {
    return {images, static_cast<size_t>(capacity * sample_numel())};
  }
  std::span<const int32_t> label_span() const { return {labels, static_cast<size_t>(capacity)}; }
  // Copies all `capacity` rows (padding included) into caller buffers of at least that size.
  Status copy_to(std::span<float> images_out, std::span<int32_t> labels_out) const;
};

class BatchLoader {
 public:
  // Checks the dataset and options (kInvalidArgument naming the bad value) and allocates the
  // batch buffers. The loader keeps its own reference to the dataset's images.
  static Expected<std::unique_ptr<BatchLoader>> create(const Dataset& dataset,
                                                       const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Begins epoch `epoch` (any order; the same epoch number repeats the same batches) and
  // starts preparing its first batches. Abandons the rest of the current epoch.
  void start_epoch(int epoch);
  // Fills `out` with the next batch of the epoch; false once the epoch is over.
  // Starts epoch 0 when no epoch was started.
  bool next(Batch& out);

  int64_t batches_per_epoch() const;
  int64_t dataset_size() const { return num_samples_; }
  // The options as given, except prefetch: the count in use, kAutoPrefetch resolved.
  const LoaderOptions& options() const { return options_; }

 private:
  enum class SlotState { kFree, kScheduled, kFilling, kReady };
  struct Slot {
    Tensor images;  // float32 [batch_size, C, H, W]
    Tensor labels;  // int32 [batch_size]
    int64_t batch = -1;
    SlotState state = SlotState::kFree;
  };

  BatchLoader(const Dataset& dataset, const LoaderOptions& options);
  Slot& slot_of(int64_t batch) { return slots_[static_cast<size_t>(batch) % slots_.size()]; }
  int64_t batch_rows(int64_t batch) const;
  void schedule(int64_t batch);
  void run_prefetch_task(int64_t batch);
  // `team`: split the rows over the calling thread's OpenMP team (never on the TBB worker,
  // where a team would be threads on top of the compute's).
  void fill(int64_t batch, Slot& slot, bool team) const;
  void cancel_and_wait();

  LoaderOptions options_;
  Tensor images_;  // the dataset's float32 [N, C, H, W]
  std::vector<int32_t> labels_;
  int64_t num_samples_ = 0;
  int64_t channels_ = 0;
  int64_t height_ = 0;
  int64_t width_ = 0;

  std::vector<int64_t> order_;  // this epoch's sample order
  std::vector<Slot> slots_;
  int epoch_ = 0;
  bool started_ = false;
  int64_t next_batch_ = 0;   // the batch next() returns
  int64_t held_batch_ = -1;  // the batch the caller holds

  std::mutex mutex_;  // guards Slot::batch/state and in_flight_
  std::condition_variable changed_;
  int64_t in_flight_ = 0;                   // prefetch tasks enqueued and not yet finished
  std::unique_ptr<tbb::task_arena> arena_;  // one worker, prefetch only
  // Prefetch tasks. Waiting on it inside the arena lets the waiting thread run queued tasks
  // itself, so shutdown never depends on a TBB worker being free (the executor bounds them).
  tbb::task_group tasks_;
};

}  // namespace retort::data
