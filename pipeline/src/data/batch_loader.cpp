#include "retort/data/batch_loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "retort/core/cpu_budget.h"
#include "retort/data/seeded_random.h"

namespace retort::data {
namespace {
// Purpose tags keep the shuffle and augmentation streams independent of each other.
constexpr uint64_t kShuffleTag = 0x53485546464C45ull;  // "SHUFFLE"
constexpr uint64_t kAugmentTag = 0x4155474D454E54ull;  // "AUGMENT"
constexpr int kMaxPrefetch = 8;
constexpr int kAutoPrefetchDepth = 2;
// Below this many floats a batch is copied by one thread: waking the team costs more.
constexpr int64_t kTeamFillFloats = 1 << 15;
}  // namespace

Status Batch::copy_to(std::span<float> images_out, std::span<int32_t> labels_out) const {
  const auto floats = static_cast<size_t>(capacity * sample_numel());
  if (images_out.size() < floats || labels_out.size() < static_cast<size_t>(capacity)) {
    return make_error(ErrorCode::kInvalidArgument, "Batch::copy_to: the buffers hold ",
                      images_out.size(), " floats and ", labels_out.size(),
                      " labels; this batch needs ", floats, " and ", capacity,
                      " (batch_size x C x H x W and batch_size)");
  }
  std::memcpy(images_out.data(), images, floats * sizeof(float));
  std::memcpy(labels_out.data(), labels, static_cast<size_t>(capacity) * sizeof(int32_t));
  return Status::Ok();
}

Expected<std::unique_ptr<BatchLoader>> BatchLoader::create(const Dataset& dataset,
                                                           const LoaderOptions& options) {
  RETORT_RETURN_IF_ERROR(validate(dataset));
  const std::string where = "batch loader for dataset '" + dataset.name + "'";
  if (dataset.size() == 0) {
    return make_error(ErrorCode::kInvalidArgument, where,
                      ": the dataset has no samples, so there is no batch to give; use a data "
                      "section with a size of at least 1");
  }
  if (options.batch_size < 1) {
    return make_error(ErrorCode::kInvalidArgument, where, ": batch_size is ", options.batch_size,
                      "; use 1 or more");
  }
  if (options.prefetch != LoaderOptions::kAutoPrefetch &&
      (options.prefetch < 0 || options.prefetch > kMaxPrefetch)) {
    return make_error(ErrorCode::kInvalidArgument, where, ": prefetch is ", options.prefetch,
                      "; use 0 (no background work) to ", kMaxPrefetch,
                      ", or LoaderOptions::kAutoPrefetch (", LoaderOptions::kAutoPrefetch, ")");
  }
  const int64_t side = std::min(dataset.height(), dataset.width());
  if (options.augment.crop_padding < 0 || options.augment.crop_padding >= side) {
    return make_error(ErrorCode::kInvalidArgument, where, ": crop_padding is ",
                      options.augment.crop_padding, " for ", dataset.height(), "x", dataset.width(),
                      " images; use 0 (no crop) to ", side - 1);
  }
  if (options.drop_last && options.batch_size > dataset.size()) {
    return make_error(ErrorCode::kInvalidArgument, where, ": drop_last with batch_size ",
                      options.batch_size, " leaves no batch of the ", dataset.size(),
                      " samples; lower batch_size or turn drop_last off");
  }
  LoaderOptions resolved = options;
  if (resolved.prefetch == LoaderOptions::kAutoPrefetch)
    resolved.prefetch = usable_cpus() > compute_threads() ? kAutoPrefetchDepth : 0;
  return std::unique_ptr<BatchLoader>(new BatchLoader(dataset, resolved));
}

BatchLoader::BatchLoader(const Dataset& dataset, const LoaderOptions& options)
    : options_(options),
      images_(dataset.images),
      labels_(dataset.labels),
      num_samples_(dataset.size()),
      channels_(dataset.channels()),
      height_(dataset.height()),
      width_(dataset.width()),
      order_(static_cast<size_t>(num_samples_)),
      slots_(static_cast<size_t>(options.prefetch) + 1) {
  for (Slot& slot : slots_) {
    slot.images = Tensor(DType::kFloat32, {options_.batch_size, channels_, height_, width_});
    slot.labels = Tensor(DType::kInt32, {options_.batch_size});
  }
  if (options_.prefetch > 0) {
    // One slot, none reserved for external threads: at most one TBB worker prepares
    // batches, so the loader never competes with oneDNN's OpenMP team for more than a core.
    arena_ = std::make_unique<tbb::task_arena>(1, 0);
    arena_->initialize();
  }
}

BatchLoader::~BatchLoader() {
  cancel_and_wait();
}

int64_t BatchLoader::batches_per_epoch() const {
  const int64_t b = options_.batch_size;
  return options_.drop_last ? num_samples_ / b : (num_samples_ + b - 1) / b;
}

int64_t BatchLoader::batch_rows(int64_t batch) const {
  return std::min(options_.batch_size, num_samples_ - batch * options_.batch_size);
}

void BatchLoader::cancel_and_wait() {
  std::unique_lock lock(mutex_);
  for (Slot& slot : slots_) {
    if (slot.state == SlotState::kScheduled) slot.state = SlotState::kFree;  // its task skips
  }
  if (arena_ && in_flight_ > 0) {
    lock.unlock();
    arena_->execute([this] { tasks_.wait(); });
    lock.lock();
  }
  changed_.wait(lock, [&] { return in_flight_ == 0; });
}

void BatchLoader::start_epoch(int epoch) {
  cancel_and_wait();  // tasks read order_ and epoch_: none may run while they change
  epoch_ = epoch;
  started_ = true;
  next_batch_ = 0;
  held_batch_ = -1;
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (options_.shuffle) {
    SeededRandom random(derive_seed(options_.seed, kShuffleTag, static_cast<int64_t>(epoch)));
    for (size_t i = order_.size(); i > 1; --i) {  // Fisher-Yates
      std::swap(order_[i - 1], order_[random.below(i)]);
    }
  }
  {
    std::lock_guard lock(mutex_);
    for (Slot& slot : slots_) {
      slot.batch = -1;
      slot.state = SlotState::kFree;
    }
  }
  const int64_t ahead = std::min<int64_t>(options_.prefetch, batches_per_epoch());
  for (int64_t b = 0; b < ahead; ++b) schedule(b);
}

void BatchLoader::schedule(int64_t batch) {
  {
    std::lock_guard lock(mutex_);
    Slot& slot = slot_of(batch);
    slot.batch = batch;
    slot.state = SlotState::kScheduled;
    ++in_flight_;
  }
  arena_->execute([this, batch] { tasks_.run([this, batch] { run_prefetch_task(batch); }); });
}

void BatchLoader::run_prefetch_task(int64_t batch) {
  Slot& slot = slot_of(batch);
  bool claimed = false;
  {
    std::lock_guard lock(mutex_);
    // The caller may have filled this batch itself already, or cancelled it.
    if (slot.batch == batch && slot.state == SlotState::kScheduled) {
      slot.state = SlotState::kFilling;
      claimed = true;
    }
  }
  if (claimed) fill(batch, slot, false);
  // Notify under the lock: once in_flight_ reaches 0 the loader may be destroyed, and this
  // task must not touch it after releasing the lock.
  std::lock_guard lock(mutex_);
  if (claimed) slot.state = SlotState::kReady;
  --in_flight_;
  changed_.notify_all();
}

bool BatchLoader::next(Batch& out) {
  if (!started_) start_epoch(0);
  if (held_batch_ >= 0) {
    std::lock_guard lock(mutex_);
    slot_of(held_batch_).state = SlotState::kFree;
    held_batch_ = -1;
  }
  if (next_batch_ >= batches_per_epoch()) return false;
  const int64_t batch = next_batch_++;
  Slot& slot = slot_of(batch);
  if (options_.prefetch == 0) {
    fill(batch, slot, true);
  } else {
    // The slot of the batch just released takes the batch `prefetch` ahead of this one.
    if (batch + options_.prefetch < batches_per_epoch()) schedule(batch + options_.prefetch);
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return slot.state != SlotState::kFilling; });
    if (slot.state == SlotState::kScheduled) {
      // The worker has not started it (busy or starved): prepare it here rather than wait.
      slot.state = SlotState::kFilling;
      lock.unlock();
      fill(batch, slot, true);
      lock.lock();
      slot.state = SlotState::kReady;
    }
  }
  held_batch_ = batch;

  out.images = slot.images.data<float>();
  out.labels = slot.labels.data<int32_t>();
  out.indices = order_.data() + batch * options_.batch_size;
  out.size = batch_rows(batch);
  out.capacity = options_.batch_size;
  out.channels = channels_;
  out.height = height_;
  out.width = width_;
  out.index = batch;
  out.epoch = epoch_;
  return true;
}

void BatchLoader::fill(int64_t batch, Slot& slot, bool team) const {
  const int64_t rows = batch_rows(batch);
  const int64_t sample = channels_ * height_ * width_;
  const int64_t* order = order_.data() + batch * options_.batch_size;
  const float* images = images_.data<float>();
  float* out_images = slot.images.data<float>();
  int32_t* out_labels = slot.labels.data<int32_t>();
  const bool augment = options_.augment.enabled();
  // Rows are independent and each one's draw is keyed by its sample: any split gives the same
  // batch.
#pragma omp parallel for schedule(static) if (team && rows * sample >= kTeamFillFloats)
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t index = order[i];
    const float* src = images + index * sample;
    float* dst = out_images + i * sample;
    if (augment) {
      // Keyed by (seed, epoch, sample): the draw does not depend on batch size, order or thread.
      const uint64_t seed =
          derive_seed(options_.seed, kAugmentTag, static_cast<int64_t>(epoch_), index);
      apply_transform(draw_transform(options_.augment, seed), src, dst, channels_, height_, width_);
    } else {
      std::memcpy(dst, src, static_cast<size_t>(sample) * sizeof(float));
    }
    out_labels[i] = labels_[static_cast<size_t>(index)];
  }
  if (rows < options_.batch_size) {  // zero the padding rows of a short last batch
    std::fill(out_images + rows * sample, out_images + options_.batch_size * sample, 0.0f);
    std::fill(out_labels + rows, out_labels + options_.batch_size, 0);
  }
}

}  // namespace retort::data
