#include "serve/models.hpp"

#include <algorithm>
#include <iostream>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "exec/executor.hpp"
#include "plugin/loader.hpp"

namespace sluice::serve {

namespace {

// sluice keeps the memory its forward passes free for the next ones (host/cli/main.cpp);
// a server that has had nothing to do for this long hands it back, so that a burst of large
// batches does not leave it holding their memory for good.
constexpr std::chrono::seconds kIdleBeforeReturningMemory{2};

void ReturnFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace

std::shared_ptr<LoadedModel> LoadedModel::Load(pipeline::ResolvedPipeline pipeline, const std::string& label,
                                               int64_t version, std::string& error) {
  std::shared_ptr<LoadedModel> loaded(new LoadedModel());
  LoadedModel* self = loaded.get();
  self->pipeline_ = std::move(pipeline);
  self->label_ = label;
  self->version_ = version;
  self->thread_ = std::thread([self] {
    exec::ExecuteOptions options;
    options.extra_services = [self](std::string_view name, uint32_t v) -> void* {
      return name == ServingV1::kName && v == ServingV1::kVersion ? static_cast<ServingV1*>(self) : nullptr;
    };
    std::unique_ptr<store::RunStore> store = store::RunStore::OpenInMemory();
    exec::ProgressView view(stderr, exec::ProgressView::Mode::kQuiet);
    exec::RunOutcome outcome;
    try {
      outcome = exec::ExecutePipeline(self->pipeline_, *store, view, "sluice serve", options);
    } catch (const std::exception& e) {
      outcome.status = store::RunStatus::kFailed;
      outcome.error = e.what();
    }
    std::lock_guard<std::mutex> lock(self->mutex_);
    if (outcome.status != store::RunStatus::kSucceeded) {
      self->error_ = outcome.error.value_or(store::Name(outcome.status));
    }
    self->finished_ = true;
    self->changed_.notify_all();
  });
  std::unique_lock<std::mutex> lock(self->mutex_);
  self->changed_.wait(lock, [self] { return self->model_ != nullptr || self->finished_; });
  if (self->model_ == nullptr) {
    error = self->error_.empty() ? "the model-server stage returned without serving" : self->error_;
    lock.unlock();
    return nullptr;  // the destructor joins the finished thread
  }
  return loaded;
}

LoadedModel::~LoadedModel() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Status LoadedModel::Serve(ServedModel& model) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (model_ != nullptr) return Status::FailedPrecondition("a stage may serve one model");
  model_ = &model;
  changed_.notify_all();
  changed_.wait(lock, [this] { return released_; });
  model_ = nullptr;
  return Status::Ok();
}

ModelSlot::ModelSlot(std::string name, std::string reference, bool follows, std::shared_ptr<LoadedModel> model,
                     BatchOptions options, Metrics& metrics)
    : name_(std::move(name)),
      reference_(std::move(reference)),
      follows_(follows),
      options_(options),
      metrics_(metrics),
      current_(std::move(model)) {
  metrics_.Version(name_, reference_, current_->version());
  for (int i = 0; i < std::max(1, options_.threads); ++i) workers_.emplace_back([this] { Work(); });
}

ModelSlot::~ModelSlot() { Stop(); }

std::shared_ptr<LoadedModel> ModelSlot::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

void ModelSlot::Switch(std::shared_ptr<LoadedModel> model) {
  std::shared_ptr<LoadedModel> old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    old = std::move(current_);
    current_ = std::move(model);
    metrics_.Version(name_, reference_, current_->version());
  }
  metrics_.Switched(name_);
  // `old` goes when the last request read for it is answered (here, if none is left).
}

void ModelSlot::Submit(std::unique_ptr<Job> job) {
  std::lock_guard<std::mutex> lock(mutex_);
  queued_rows_ += static_cast<int64_t>(job->rows.size());
  queue_.push_back(std::move(job));
  metrics_.QueueDepth(name_, queued_rows_);
  queued_.notify_one();
}

void ModelSlot::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    queued_.notify_all();
  }
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

// Takes the oldest request and every later one read for the same version, up to the
// batch's size, waiting at most max_delay after the oldest arrived for more to come.
void ModelSlot::Work() {
  if (options_.intra_op_threads > 0) plugin::TorchRuntime(options_.intra_op_threads);
  std::vector<std::unique_ptr<Job>> batch;
  bool returned = true;  // the memory freed since the last forward pass went back to the kernel
  for (;;) {
    bool part = false;  // one request, larger than a batch or begun: RunPart
    {
      std::unique_lock<std::mutex> lock(mutex_);
      const auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (!returned && !queued_.wait_for(lock, kIdleBeforeReturningMemory, ready)) {
        lock.unlock();
        ReturnFreedMemory();
        returned = true;
        continue;
      }
      queued_.wait(lock, ready);
      returned = false;
      if (queue_.empty()) return;  // stopping, and everything answered
      const std::chrono::steady_clock::time_point deadline = queue_.front()->arrived + options_.max_delay;
      const LoadedModel* model = queue_.front()->model.get();
      const int64_t chunk = Chunk(*model);
      const auto left = [](const Job& job) { return static_cast<int64_t>(job.rows.size() - job.next); };
      // A request of more rows than a batch (and what is left of one) goes alone, to
      // RunPart; others share a forward pass.
      const auto alone = [&](const Job& job) { return job.next > 0 || left(job) > chunk; };
      int64_t rows = 0;
      for (;;) {
        while (!queue_.empty() && queue_.front()->model.get() == model &&
               (batch.empty() || (!alone(*batch.front()) && !alone(*queue_.front()) &&
                                  rows + left(*queue_.front()) <= options_.max_batch))) {
          rows += left(*queue_.front());
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        if (rows >= options_.max_batch || alone(*batch.front()) || !queue_.empty() || stopping_ ||
            std::chrono::steady_clock::now() >= deadline) {
          break;
        }
        queued_.wait_until(lock, deadline);
      }
      part = alone(*batch.front());
      queued_rows_ -= rows;
      metrics_.QueueDepth(name_, queued_rows_);
    }
    if (part) {
      RunPart(std::move(batch[0]));
    } else {
      RunBatch(batch);
    }
    batch.clear();
  }
}

int64_t ModelSlot::Chunk(const LoadedModel& model) const {
  return std::max<int64_t>(1, std::min(options_.max_batch, model.model().info().max_batch));
}

void ModelSlot::RunPart(std::unique_ptr<Job> job) {
  const size_t end = std::min(job->rows.size(), job->next + static_cast<size_t>(Chunk(*job->model)));
  Rows part(std::make_move_iterator(job->rows.begin() + static_cast<std::ptrdiff_t>(job->next)),
            std::make_move_iterator(job->rows.begin() + static_cast<std::ptrdiff_t>(end)));
  std::vector<double> out;
  const Status status = Predict(*job->model, part, job->next, out);
  job->next = end;
  job->out.insert(job->out.end(), out.begin(), out.end());
  if (!status.ok() || job->next == job->rows.size()) {
    const std::shared_ptr<LoadedModel> model = std::move(job->model);
    job->done(status, *model, job->out);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  queued_rows_ += static_cast<int64_t>(job->rows.size() - job->next);
  queue_.push_back(std::move(job));
  metrics_.QueueDepth(name_, queued_rows_);
  queued_.notify_one();
}

Status ModelSlot::Predict(const LoadedModel& model, Rows& rows, size_t first, std::vector<double>& out) {
  ServedModel& served = model.model();
  const auto width = static_cast<size_t>(served.info().output_width);
  const auto chunk = static_cast<size_t>(Chunk(model));
  // The error of the first chunk that fails.
  out.clear();
  out.reserve(rows.size() * width);
  Rows part;
  std::vector<double> part_out;
  for (size_t begin = 0; begin < rows.size(); begin += chunk) {
    const size_t end = std::min(rows.size(), begin + chunk);
    const Rows* input = &rows;
    if (begin != 0 || end != rows.size()) {
      part.assign(std::make_move_iterator(rows.begin() + static_cast<std::ptrdiff_t>(begin)),
                  std::make_move_iterator(rows.begin() + static_cast<std::ptrdiff_t>(end)));
      input = &part;
    }
    const auto t0 = std::chrono::steady_clock::now();
    Status status = served.Predict(*input, part_out);
    metrics_.Batch(name_, static_cast<int64_t>(end - begin),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (input == &part) {
      std::move(part.begin(), part.end(), rows.begin() + static_cast<std::ptrdiff_t>(begin));
    }
    if (!status.ok()) {
      if (status.code() == Status::Code::kInvalidArgument && first + begin != 0) {
        // Name the rows as the client counts them.
        return Status::InvalidArgument("(rows " + std::to_string(first + begin + 1) + "-" +
                                       std::to_string(first + end) + ") " + status.message());
      }
      return status;
    }
    if (part_out.size() != (end - begin) * width) {
      return Status::Internal("the model answered " + std::to_string(part_out.size()) + " values for " +
                              std::to_string(end - begin) + " rows of " + std::to_string(width));
    }
    out.insert(out.end(), part_out.begin(), part_out.end());
  }
  return Status::Ok();
}

void ModelSlot::RunBatch(std::vector<std::unique_ptr<Job>>& jobs) {
  const std::shared_ptr<LoadedModel> model = jobs.front()->model;
  const auto width = static_cast<size_t>(model->model().info().output_width);
  auto predict = [&](Rows& rows, std::vector<double>& out) { return Predict(*model, rows, 0, out); };

  std::vector<double> out;
  if (jobs.size() == 1) {
    Status status = predict(jobs[0]->rows, out);
    jobs[0]->model.reset();
    jobs[0]->done(status, *model, out);
    return;
  }
  Rows all;
  std::vector<size_t> offsets;
  for (auto& job : jobs) {
    offsets.push_back(all.size());
    std::move(job->rows.begin(), job->rows.end(), std::back_inserter(all));
  }
  Status status = predict(all, out);
  if (status.ok()) {
    for (size_t j = 0; j < jobs.size(); ++j) {
      const size_t begin = offsets[j], end = j + 1 < jobs.size() ? offsets[j + 1] : all.size();
      std::vector<double> mine(out.begin() + static_cast<std::ptrdiff_t>(begin * width),
                               out.begin() + static_cast<std::ptrdiff_t>(end * width));
      jobs[j]->model.reset();
      jobs[j]->done(status, *model, mine);
    }
    return;
  }
  // One request's bad rows fail the whole batch: run each alone, so each client hears
  // about its own rows only.
  for (size_t j = 0; j < jobs.size(); ++j) {
    const size_t begin = offsets[j], end = j + 1 < jobs.size() ? offsets[j + 1] : all.size();
    jobs[j]->rows.assign(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(begin)),
                         std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(end)));
    Status own = predict(jobs[j]->rows, out);
    jobs[j]->model.reset();
    jobs[j]->done(own, *model, out);
  }
}

}  // namespace sluice::serve
