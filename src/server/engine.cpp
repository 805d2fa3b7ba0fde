#include "server/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/timer.h"
#include "inference/segmenter.h"

namespace cutout::server {

std::string_view model_status_name(ModelStatus status) {
  switch (status) {
    case ModelStatus::kLoading:
      return "loading";
    case ModelStatus::kWarming:
      return "warming";
    case ModelStatus::kReady:
      return "ready";
    case ModelStatus::kFailed:
      return "failed";
  }
  return "failed";
}

Engine::Engine(EngineOptions options, StatusListener on_status)
    : options_(std::move(options)), on_status_(std::move(on_status)) {
  options_.queue_limit = std::max(0, options_.queue_limit);
  options_.concurrency = std::max(1, options_.concurrency);
}

Engine::~Engine() {
  shutdown();
}

void Engine::start() {
  set_status(ModelStatus::kLoading, 0, "");
  loader_ = std::thread([this] { load(); });
}

namespace {

// The warm-up when no request is there to be it: a mid-grey 1024x1024 photo.
std::shared_ptr<InferenceJob> dummy_warmup_job() {
  auto job = std::make_shared<InferenceJob>();
  job->image = cv::Mat(1024, 1024, CV_8UC3, cv::Scalar(128, 128, 128));
  job->warmup = true;
  return job;
}

}  // namespace

void Engine::set_status(ModelStatus status, double ms, const std::string& detail) {
  {
    std::lock_guard lock(mutex_);
    status_ = status;
    if (status == ModelStatus::kFailed) failure_ = detail;
  }
  changed_.notify_all();
  if (on_status_) on_status_(status, ms, detail);
}

void Engine::load() {
  Stopwatch watch;
  try {
    segmenter_ = std::make_unique<Segmenter>(options_.model, options_.session);
  } catch (const std::exception& e) {
    load_ms_ = watch.elapsed_ms();
    set_status(ModelStatus::kFailed, load_ms_, e.what());
    std::lock_guard lock(mutex_);
    for (auto& job : queue_) {  // nobody will run them
      std::lock_guard job_lock(job->mutex);
      job->error =
          std::make_exception_ptr(Error(ErrorCode::kModel, "model failed to load: " + std::string(e.what())));
      job->done = true;
      job->cv.notify_all();
    }
    queue_.clear();
    return;
  }
  load_ms_ = watch.elapsed_ms();
  max_batch_ = std::clamp(options_.max_batch, 1, segmenter_->session().max_batch());
  {
    std::lock_guard lock(mutex_);
    warm_start_ = std::chrono::steady_clock::now();
    // No request waiting: warm up with a dummy photo, ahead of anything that comes later.
    if (queue_.empty()) queue_.push_front(dummy_warmup_job());
  }
  set_status(ModelStatus::kWarming, load_ms_, "");
  for (int i = 0; i < options_.concurrency; ++i) workers_.emplace_back([this] { work(); });
}

Engine::Batch Engine::take_batch() {
  Batch batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return batch;  // stopping, and everything queued is done
    auto job = queue_.front();
    queue_.pop_front();
    if (!job->cancelled) {
      batch.push_back(std::move(job));
      break;
    }
  }
  // Company for it: what is queued now, then what arrives within the delay.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double, std::milli>(options_.batch_delay_ms));
  const size_t most = static_cast<size_t>(std::max(1, max_batch_.load()));
  while (batch.size() < most) {
    if (queue_.empty() &&
        (stopping_ || !changed_.wait_until(lock, deadline, [&] { return !queue_.empty() || stopping_; }))) {
      break;
    }
    if (queue_.empty()) break;
    auto job = queue_.front();
    queue_.pop_front();
    if (!job->cancelled) batch.push_back(std::move(job));
  }
  in_flight_ += static_cast<int>(batch.size());
  return batch;
}

void Engine::work() {
  for (;;) {
    const Batch batch = take_batch();
    if (batch.empty()) return;
    changed_.notify_all();  // queue depth changed
    const auto now = std::chrono::steady_clock::now();
    std::vector<cv::Mat> images;
    for (const auto& job : batch) {
      {
        std::lock_guard job_lock(job->mutex);
        job->started = true;
        job->queue_ms = std::chrono::duration<double, std::milli>(now - job->submitted).count();
      }
      if (options_.on_job_start) options_.on_job_start(*job);
      images.push_back(job->image);
    }
    std::vector<StageTimings> timings(batch.size());
    std::vector<cv::Mat> mattes(batch.size());
    std::exception_ptr error;
    try {
      if (batch.size() == 1)
        mattes[0] = segmenter_->predict_matte(images[0], timings[0]);
      else
        mattes = segmenter_->predict_mattes(images, timings);
    } catch (...) {
      error = std::current_exception();
    }
    if (error && batch.size() > 1) {
      // One bad photo must not fail the others: each alone, each with its own outcome.
      for (size_t i = 0; i < batch.size(); ++i) {
        std::vector<cv::Mat> one(1);
        std::vector<StageTimings> t(1);
        std::exception_ptr e;
        try {
          one[0] = segmenter_->predict_matte(images[i], t[0]);
        } catch (...) {
          e = std::current_exception();
        }
        finish({batch[i]}, one, t, e);
      }
      continue;
    }
    finish(batch, mattes, timings, error);
  }
}

void Engine::finish(const Batch& batch, std::vector<cv::Mat>& mattes, std::vector<StageTimings>& timings,
                    std::exception_ptr error) {
  const StageTimings& t = timings.front();
  // Per photo: a batch of n shares one run, so each took 1/n of it (Retry-After's figure).
  const double seconds =
      (t.preprocess_ms + t.inference_ms + t.postprocess_ms) / 1000.0 / static_cast<double>(batch.size());
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    in_flight_ -= static_cast<int>(batch.size());
    first = status_ == ModelStatus::kWarming;
  }
  if (!error && seconds > 0) typical_s_ = 0.8 * typical_s_.load() + 0.2 * seconds;
  const bool warmup = std::any_of(batch.begin(), batch.end(), [](const auto& j) { return j->warmup; });
  if (first && error && !warmup) {
    // A request's own failure says nothing sure about the model: warm up with the dummy photo
    // instead, and fail only if that fails too (else one bad request would condemn the server).
    std::lock_guard lock(mutex_);
    queue_.push_front(dummy_warmup_job());
  } else if (first) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - warm_start_).count();
    if (error) {
      std::string why = "warm-up inference failed";
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        why += std::string(": ") + e.what();
      }
      set_status(ModelStatus::kFailed, ms, why);
    } else {
      warmup_ms_ = ms;
      set_status(ModelStatus::kReady, ms, warmup ? "dummy 1024x1024 run" : "first request's run");
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto& job = batch[i];
    {
      std::lock_guard job_lock(job->mutex);
      job->matte = std::move(mattes[i]);
      job->error = error;
      job->timings = timings[i];
      job->batch = static_cast<int>(batch.size());
      job->done = true;
      job->image.release();
    }
    job->cv.notify_all();
  }
  changed_.notify_all();
}

void Engine::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty() && !loader_.joinable()) return;
    stopping_ = true;
  }
  changed_.notify_all();
  if (loader_.joinable()) loader_.join();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

ModelStatus Engine::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

std::string Engine::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

ModelStatus Engine::wait_until_settled(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline,
                      [&] { return status_ == ModelStatus::kReady || status_ == ModelStatus::kFailed; });
  return status_;
}

std::optional<int> Engine::submit(const std::shared_ptr<InferenceJob>& job) {
  int position;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || status_ == ModelStatus::kFailed) return std::nullopt;
    // Jobs that would have to wait for a free inference slot, this one included (the warm-up
    // job is not counted), so a limit of 0 still lets an idle engine take work.
    const int warmup = !queue_.empty() && queue_.front()->warmup ? 1 : 0;
    const int waiting = static_cast<int>(queue_.size()) - warmup + in_flight_ + 1 - options_.concurrency;
    if (waiting > options_.queue_limit) return std::nullopt;
    job->submitted = std::chrono::steady_clock::now();
    queue_.push_back(job);
    position = static_cast<int>(queue_.size()) - 1;
  }
  changed_.notify_all();
  return position;
}

bool Engine::accepting() const {
  std::lock_guard lock(mutex_);
  return !stopping_ && status_ != ModelStatus::kFailed;
}

bool Engine::withdraw(const std::shared_ptr<InferenceJob>& job) {
  job->cancelled = true;
  std::lock_guard lock(mutex_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (*it == job) {
      queue_.erase(it);
      changed_.notify_all();
      return true;
    }
  }
  return false;
}

int Engine::queue_depth() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& job : queue_) n += job->warmup ? 0 : 1;
  return n;
}

int Engine::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

double Engine::typical_inference_s() const {
  return typical_s_;
}

int Engine::retry_after_full_s() const {
  // In double, so that neither queue_limit + 1 nor the cast can overflow an int.
  const double seconds = std::ceil(typical_inference_s() * (static_cast<double>(queue_limit()) + 1));
  return static_cast<int>(std::clamp(seconds, 1.0, static_cast<double>(std::numeric_limits<int>::max())));
}

std::string Engine::provider() const {
  return std::string(device_name(options_.session.device));
}

int Engine::threads() const {
  return options_.session.intra_op_threads > 0 ? options_.session.intra_op_threads : default_thread_count();
}

}  // namespace cutout::server
