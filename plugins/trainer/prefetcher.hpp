// Prepares the next batches on a worker thread while the current step computes, so a
// batch is ready when the trainer asks for it. Batches come out in order, exactly those
// `make(step)` returns, so training stays deterministic.
#ifndef SLUICE_PLUGINS_TRAINER_PREFETCHER_HPP_
#define SLUICE_PLUGINS_TRAINER_PREFETCHER_HPP_

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace sluice::trainer {

template <class Batch>
class Prefetcher {
 public:
  // Produces batches for steps [begin, end). With `depth` 0 (or less) everything happens
  // on the caller's thread.
  Prefetcher(std::function<Batch(int64_t)> make, int64_t begin, int64_t end, int depth)
      : make_(std::move(make)), next_(begin), end_(end), depth_(std::max(depth, 0)) {
    if (depth_ > 0) worker_ = std::thread([this] { Work(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The batch of the next step; rethrows what the worker threw.
  Batch Next() {
    if (depth_ == 0) return make_(next_++);
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return !ready_.empty() || error_; });
    if (ready_.empty() && error_) std::rethrow_exception(error_);
    Batch batch = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return batch;
  }

 private:
  void Work() {
    for (int64_t step = next_; step < end_; ++step) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return stop_ || static_cast<int>(ready_.size()) < depth_; });
        if (stop_) return;
      }
      try {
        Batch batch = make_(step);
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(batch));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
        changed_.notify_all();
        return;
      }
      changed_.notify_all();
    }
  }

  std::function<Batch(int64_t)> make_;
  int64_t next_, end_;
  int depth_;
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace sluice::trainer

#endif  // SLUICE_PLUGINS_TRAINER_PREFETCHER_HPP_
