// The model's lifecycle and the one way work reaches it: a bounded queue of inference jobs.
//
// start() loads the model on a background thread (status loading), then warms it with one
// inference (warming), then serves (ready) — or records why it could not (failed). The
// warm-up is a dummy 1024x1024 run, unless a real request is already waiting when the model
// has loaded: then that request's inference is the warm-up, so a cold request never waits for
// a dummy run as well. If that request's inference fails, the dummy run is the warm-up after all
// (the request gets its error; the model fails only if the dummy run fails too). Jobs submitted before ready
// simply wait in the queue (cold requests).
//
// Thread-safety: every public function may be called from any thread. `concurrency` worker
// threads run inferences; request threads submit and wait. The queue holds at most
// queue_limit waiting jobs (running ones not counted); submit() refuses more.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>

#include "core/pipeline.h"
#include "inference/model_registry.h"
#include "inference/ort_session.h"

namespace cutout {
class Segmenter;
}

namespace cutout::server {

struct InferenceJob;

enum class ModelStatus { kLoading, kWarming, kReady, kFailed };
std::string_view model_status_name(ModelStatus status);  // "loading", "warming", "ready", "failed"

struct EngineOptions {
  ModelDescriptor model;
  SessionConfig session;
  int queue_limit = 4;
  int concurrency = 1;
  // Dynamic batching: a worker that takes a job also takes up to max_batch - 1 more that are
  // queued, waiting at most batch_delay_ms for them, and runs them as one batch (when the model's
  // batch dimension allows it, else one at a time). 1: off.
  int max_batch = 1;
  double batch_delay_ms = 2;
  // Called on the worker thread as each job (the dummy warm-up too) starts, before its inference;
  // empty in the server. Tests hold a worker here to fill the queue behind a running job.
  std::function<void(const InferenceJob& job)> on_job_start;
};

// One inference job: the decoded photo in, the matte out.
struct InferenceJob {
  cv::Mat image;
  std::atomic<bool> cancelled{false};  // set by the requester; a queued job is then skipped
  bool warmup = false;

  // Filled by the worker, guarded by mutex; done is signalled on cv.
  std::mutex mutex;
  std::condition_variable cv;
  bool started = false;
  bool done = false;
  cv::Mat matte;
  std::exception_ptr error;
  StageTimings timings;  // preprocess, inference, postprocess
  double queue_ms = 0;   // from submit to start
  int batch = 1;         // how many photos shared its run of the model (EngineOptions::max_batch)
  std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();
};

class Engine {
 public:
  using StatusListener =
      std::function<void(ModelStatus status, double duration_ms, const std::string& detail)>;

  Engine(EngineOptions options, StatusListener on_status);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void start();
  // Stops taking jobs, lets the queued and running ones finish, joins the threads.
  void shutdown();

  ModelStatus status() const;
  std::string failure() const;  // why the model failed; "" otherwise
  // Waits until ready or failed, or the deadline passes; returns the status then.
  ModelStatus wait_until_settled(std::chrono::steady_clock::time_point deadline) const;

  // Queues a job. Returns its position (0: runs next), or nullopt when the queue is full or
  // the engine is shutting down (see accepting()).
  std::optional<int> submit(const std::shared_ptr<InferenceJob>& job);
  bool accepting() const;
  // Removes a job that has not started; true if it was still queued.
  bool withdraw(const std::shared_ptr<InferenceJob>& job);

  int queue_depth() const;
  int in_flight() const;
  int queue_limit() const { return options_.queue_limit; }
  // Typical seconds of one inference (moving average), for Retry-After.
  double typical_inference_s() const;
  // Retry-After of a refused submit: the seconds to run a full queue and the running job, at least 1.
  int retry_after_full_s() const;

  double model_load_ms() const { return load_ms_; }
  double warmup_ms() const { return warmup_ms_; }
  const ModelDescriptor& model() const { return options_.model; }
  std::string provider() const;
  int threads() const;
  // The largest batch the workers run: max_batch, capped by the model's (1 until it is loaded).
  int max_batch() const { return max_batch_; }

 private:
  using Batch = std::vector<std::shared_ptr<InferenceJob>>;
  void load();
  void work();
  // Waits for a job, then (batching) for more, up to max_batch() or batch_delay_ms; empty when
  // stopping with nothing queued. Counts them in flight.
  Batch take_batch();
  void finish(const Batch& batch, std::vector<cv::Mat>& mattes, std::vector<StageTimings>& timings,
              std::exception_ptr error);
  void set_status(ModelStatus status, double ms, const std::string& detail);

  EngineOptions options_;
  StatusListener on_status_;
  std::unique_ptr<Segmenter> segmenter_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;  // status, queue or stop
  std::deque<std::shared_ptr<InferenceJob>> queue_;
  ModelStatus status_ = ModelStatus::kLoading;
  std::string failure_;
  bool stopping_ = false;
  int in_flight_ = 0;
  std::atomic<int> max_batch_{1};
  std::atomic<double> typical_s_{1.0};
  std::atomic<double> load_ms_{0}, warmup_ms_{0};
  std::chrono::steady_clock::time_point warm_start_;

  std::thread loader_;
  std::vector<std::thread> workers_;
};

}  // namespace cutout::server
