// The Engine's lifecycle and queue with a tiny generated model (scripts/make_test_models.py):
// loading, warming and ready or failed; submit, withdraw and the queue limit; the Retry-After of a
// full queue; shutdown. A gate on EngineOptions::on_job_start holds a worker inside a job, so the
// queue behind it is filled and inspected without relying on timing; every wait is on a condition,
// with a generous limit so that a loaded machine is slow, not wrong.
#include "server/engine.h"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "test_support.h"

namespace cutout::server {
namespace {

using Clock = std::chrono::steady_clock;

// Long enough for any wait on a loaded 2-core machine; a passing test never waits this long.
constexpr auto kPatience = std::chrono::seconds(60);

// tiny_inspyrenet at a 64x64 input: an inference takes a millisecond or so.
EngineOptions tiny_options(int queue_limit, int concurrency = 1, const char* file = "tiny_inspyrenet.onnx") {
  EngineOptions o;
  o.model = custom_model(testing::test_models_dir() / file, ModelKind::kInspyrenet, 64);
  o.session.intra_op_threads = 1;
  o.queue_limit = queue_limit;
  o.concurrency = concurrency;
  return o;
}

// A photo black on the left, white on the right: tiny_inspyrenet's min-max normalised matte of it
// is 0 on the left and 255 on the right.
std::shared_ptr<InferenceJob> photo_job() {
  auto job = std::make_shared<InferenceJob>();
  job->image = cv::Mat(48, 64, CV_8UC3, cv::Scalar(0, 0, 0));
  job->image(cv::Rect(32, 0, 32, 48)).setTo(cv::Scalar(255, 255, 255));
  return job;
}

bool wait_done(InferenceJob& job) {
  std::unique_lock lock(job.mutex);
  return job.cv.wait_for(lock, kPatience, [&] { return job.done; });
}

bool done(InferenceJob& job) {
  std::lock_guard lock(job.mutex);
  return job.done;
}

bool started(InferenceJob& job) {
  std::lock_guard lock(job.mutex);
  return job.started;
}

// For a state the engine announces nowhere (accepting() once shutdown has begun): polls.
template <typename Predicate>
bool eventually(Predicate predicate) {
  const auto deadline = Clock::now() + kPatience;
  while (!predicate()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The engine's on_job_start: records each job that starts, and holds its worker while closed.
class Gate {
 public:
  struct Start {
    const InferenceJob* job;  // for comparison only: a warm-up job is gone once it has run
    bool warmup;
  };

  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void arrive(const InferenceJob& job) {
    std::unique_lock lock(mutex_);
    starts_.push_back({&job, job.warmup});
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  // Waits until `n` jobs in all have started (the held ones included).
  bool wait_for_starts(size_t n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kPatience, [&] { return starts_.size() >= n; });
  }
  std::vector<Start> starts() const {
    std::lock_guard lock(mutex_);
    return starts_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = true;
  std::vector<Start> starts_;
};

// The engine's status listener: what it announced, in order.
class StatusLog {
 public:
  struct Event {
    ModelStatus status;
    std::string detail;
  };

  Engine::StatusListener listener() {
    return [this](ModelStatus status, double, const std::string& detail) {
      {
        std::lock_guard lock(mutex_);
        events_.push_back({status, detail});
      }
      cv_.notify_all();
    };
  }
  // The events once `status` has been announced (the listener runs after status() changes).
  std::vector<Event> wait_for(ModelStatus status) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, kPatience, [&] {
      for (const auto& e : events_) {
        if (e.status == status) return true;
      }
      return false;
    });
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

std::vector<ModelStatus> statuses(const std::vector<StatusLog::Event>& events) {
  std::vector<ModelStatus> out;
  for (const auto& e : events) out.push_back(e.status);
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  // A held worker would keep the engine's shutdown waiting: let it go first.
  void TearDown() override {
    gate_.open();
    engine_.reset();
  }

  Engine& make_engine(EngineOptions options) {
    options.on_job_start = [this](const InferenceJob& job) { gate_.arrive(job); };
    engine_ = std::make_unique<Engine>(std::move(options), log_.listener());
    return *engine_;
  }

  // Starts an engine on the tiny model and waits for it to be ready (its dummy warm-up done).
  ModelStatus start_ready(int queue_limit, int concurrency = 1) {
    Engine& engine = make_engine(tiny_options(queue_limit, concurrency));
    engine.start();
    return engine.wait_until_settled(Clock::now() + kPatience);
  }

  Engine& engine() { return *engine_; }

  Gate gate_;
  StatusLog log_;
  std::unique_ptr<Engine> engine_;
};

TEST(ModelStatusName, NamesEachStatus) {
  EXPECT_EQ(model_status_name(ModelStatus::kLoading), "loading");
  EXPECT_EQ(model_status_name(ModelStatus::kWarming), "warming");
  EXPECT_EQ(model_status_name(ModelStatus::kReady), "ready");
  EXPECT_EQ(model_status_name(ModelStatus::kFailed), "failed");
}

TEST_F(EngineTest, IsLoadingUntilStarted) {
  Engine& e = make_engine(tiny_options(4));
  EXPECT_EQ(e.status(), ModelStatus::kLoading);
  EXPECT_EQ(e.wait_until_settled(Clock::now()), ModelStatus::kLoading);
  EXPECT_TRUE(e.accepting());
  EXPECT_EQ(e.failure(), "");
  EXPECT_EQ(e.queue_depth(), 0);
  EXPECT_EQ(e.in_flight(), 0);
  EXPECT_EQ(e.typical_inference_s(), 1.0);  // the guess before any inference
  EXPECT_EQ(e.provider(), "cpu");
  EXPECT_EQ(e.threads(), 1);
}

TEST_F(EngineTest, WarmsUpWithADummyRunWhenNoRequestWaits) {
  ASSERT_EQ(start_ready(4), ModelStatus::kReady);
  const auto events = log_.wait_for(ModelStatus::kReady);
  EXPECT_EQ(statuses(events),
            (std::vector{ModelStatus::kLoading, ModelStatus::kWarming, ModelStatus::kReady}));
  EXPECT_EQ(events.back().detail, "dummy 1024x1024 run");
  const auto starts = gate_.starts();
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_TRUE(starts[0].warmup);
  EXPECT_GT(engine().model_load_ms(), 0.0);
  EXPECT_GT(engine().warmup_ms(), 0.0);
  EXPECT_EQ(engine().queue_depth(), 0);  // the warm-up job is never counted as a request
  EXPECT_EQ(engine().failure(), "");
  EXPECT_TRUE(engine().accepting());
}

TEST_F(EngineTest, ARequestWaitingWhenTheModelHasLoadedIsTheWarmUp) {
  Engine& e = make_engine(tiny_options(4));
  auto job = photo_job();
  ASSERT_EQ(e.submit(job), 0);  // a cold request: queued before the model is there
  EXPECT_EQ(e.queue_depth(), 1);
  e.start();
  ASSERT_TRUE(wait_done(*job));
  EXPECT_FALSE(job->error);
  ASSERT_EQ(job->matte.size(), cv::Size(64, 48));
  EXPECT_EQ(job->matte.at<uint8_t>(24, 4), 0);
  EXPECT_EQ(job->matte.at<uint8_t>(24, 60), 255);
  EXPECT_TRUE(job->image.empty());  // released once done
  EXPECT_GT(job->timings.inference_ms, 0.0);

  const auto events = log_.wait_for(ModelStatus::kReady);
  EXPECT_EQ(statuses(events),
            (std::vector{ModelStatus::kLoading, ModelStatus::kWarming, ModelStatus::kReady}));
  EXPECT_EQ(events.back().detail, "first request's run");
  const auto starts = gate_.starts();  // no dummy run before or after it
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].job, job.get());
  EXPECT_FALSE(starts[0].warmup);
  EXPECT_EQ(e.status(), ModelStatus::kReady);
  EXPECT_GT(e.warmup_ms(), 0.0);
}

TEST_F(EngineTest, AWaitingRequestWhoseInferenceFailsDoesNotFailTheModel) {
  Engine& e = make_engine(tiny_options(4));
  auto bad = std::make_shared<InferenceJob>();
  bad->image = cv::Mat(48, 64, CV_8UC1, cv::Scalar(128));  // the model takes RGB or RGBA
  ASSERT_EQ(e.submit(bad), 0);
  e.start();
  ASSERT_TRUE(wait_done(*bad));
  EXPECT_TRUE(bad->error);
  ASSERT_EQ(e.wait_until_settled(Clock::now() + kPatience), ModelStatus::kReady);
  const auto events = log_.wait_for(ModelStatus::kReady);
  EXPECT_EQ(statuses(events),
            (std::vector{ModelStatus::kLoading, ModelStatus::kWarming, ModelStatus::kReady}));
  EXPECT_EQ(events.back().detail, "dummy 1024x1024 run");
  const auto starts = gate_.starts();  // the request, then the dummy run as the warm-up
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].job, bad.get());
  EXPECT_TRUE(starts[1].warmup);
  auto good = photo_job();
  ASSERT_TRUE(e.submit(good).has_value());
  ASSERT_TRUE(wait_done(*good));
  EXPECT_FALSE(good->error);
}

TEST_F(EngineTest, AMissingModelFailsWithTheReasonAndRefusesWork) {
  Engine& e = make_engine(tiny_options(4, 1, "does_not_exist.onnx"));
  e.start();
  ASSERT_EQ(e.wait_until_settled(Clock::now() + kPatience), ModelStatus::kFailed);
  EXPECT_NE(e.failure().find("model file not found"), std::string::npos) << e.failure();
  EXPECT_NE(e.failure().find("does_not_exist.onnx"), std::string::npos) << e.failure();
  EXPECT_FALSE(e.accepting());
  EXPECT_EQ(e.submit(photo_job()), std::nullopt);
  EXPECT_EQ(e.queue_depth(), 0);
  const auto events = log_.wait_for(ModelStatus::kFailed);
  EXPECT_EQ(statuses(events), (std::vector{ModelStatus::kLoading, ModelStatus::kFailed}));
  EXPECT_EQ(events.back().detail, e.failure());
  EXPECT_TRUE(gate_.starts().empty());
}

TEST_F(EngineTest, ModelsThatAreNotMattingModelsFail) {
  for (const char* file : {"not_a_model.onnx", "bad_signature.onnx"}) {
    Engine& e = make_engine(tiny_options(4, 1, file));
    e.start();
    EXPECT_EQ(e.wait_until_settled(Clock::now() + kPatience), ModelStatus::kFailed) << file;
    EXPECT_NE(e.failure(), "") << file;
    EXPECT_FALSE(e.accepting()) << file;
    EXPECT_EQ(e.submit(photo_job()), std::nullopt) << file;
  }
}

TEST_F(EngineTest, RequestsQueuedWhileLoadingGetTheLoadError) {
  Engine& e = make_engine(tiny_options(4, 1, "does_not_exist.onnx"));
  auto first = photo_job(), second = photo_job();
  ASSERT_EQ(e.submit(first), 0);
  ASSERT_EQ(e.submit(second), 1);
  e.start();
  for (auto* job : {first.get(), second.get()}) {
    ASSERT_TRUE(wait_done(*job));
    EXPECT_FALSE(job->started);
    ASSERT_TRUE(job->error);
    try {
      std::rethrow_exception(job->error);
    } catch (const Error& err) {
      EXPECT_EQ(err.code(), ErrorCode::kModel);
      EXPECT_NE(std::string(err.what()).find("model failed to load: model file not found"), std::string::npos)
          << err.what();
    }
  }
  EXPECT_EQ(e.queue_depth(), 0);
}

TEST_F(EngineTest, SubmitGivesPositionsAndRefusesWhenQueueLimitJobsWait) {
  ASSERT_EQ(start_ready(3), ModelStatus::kReady);
  Engine& e = engine();
  gate_.close();
  auto running = photo_job();
  ASSERT_EQ(e.submit(running), 0);
  ASSERT_TRUE(gate_.wait_for_starts(2));  // the warm-up, then this one, held
  EXPECT_EQ(e.in_flight(), 1);
  EXPECT_EQ(e.queue_depth(), 0);

  std::vector<std::shared_ptr<InferenceJob>> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(photo_job());
    ASSERT_EQ(e.submit(waiting.back()), i);
  }
  EXPECT_EQ(e.queue_depth(), 3);
  auto refused = photo_job();
  EXPECT_EQ(e.submit(refused), std::nullopt);  // three waiting: the limit; the running one not counted
  EXPECT_TRUE(e.accepting());                  // full, not shutting down
  EXPECT_EQ(e.queue_depth(), 3);

  gate_.open();
  ASSERT_TRUE(wait_done(*running));
  for (auto& job : waiting) {
    ASSERT_TRUE(wait_done(*job));
    EXPECT_FALSE(job->error);
    EXPECT_EQ(job->matte.size(), cv::Size(64, 48));
  }
  EXPECT_FALSE(started(*refused));
  EXPECT_EQ(e.queue_depth(), 0);
  EXPECT_EQ(e.in_flight(), 0);          // counted down before the job is done
  ASSERT_EQ(e.submit(photo_job()), 0);  // room again
}

TEST_F(EngineTest, EveryRunningJobIsLeftOutOfTheLimit) {
  ASSERT_EQ(start_ready(1, 2), ModelStatus::kReady);
  Engine& e = engine();
  gate_.close();
  auto a = photo_job(), b = photo_job();
  ASSERT_TRUE(e.submit(a).has_value());
  ASSERT_TRUE(gate_.wait_for_starts(2));
  ASSERT_TRUE(e.submit(b).has_value());
  ASSERT_TRUE(gate_.wait_for_starts(3));  // both workers busy at once
  EXPECT_EQ(e.in_flight(), 2);
  auto c = photo_job();
  ASSERT_EQ(e.submit(c), 0);
  EXPECT_EQ(e.submit(photo_job()), std::nullopt);
  gate_.open();
  for (auto* job : {a.get(), b.get(), c.get()}) {
    ASSERT_TRUE(wait_done(*job));
    EXPECT_FALSE(job->error);
  }
}

TEST_F(EngineTest, QueueLimitZeroTakesWorkOnlyForAnIdleWorker) {
  ASSERT_EQ(start_ready(0), ModelStatus::kReady);
  Engine& e = engine();
  gate_.close();
  auto running = photo_job();
  ASSERT_EQ(e.submit(running), 0);
  ASSERT_TRUE(gate_.wait_for_starts(2));
  EXPECT_EQ(e.submit(photo_job()), std::nullopt);
  gate_.open();
  ASSERT_TRUE(wait_done(*running));
  EXPECT_EQ(e.in_flight(), 0);  // counted down before the job is done
  auto next = photo_job();
  ASSERT_EQ(e.submit(next), 0);
  EXPECT_TRUE(wait_done(*next));
}

TEST_F(EngineTest, WithdrawRemovesOnlyAJobStillQueued) {
  ASSERT_EQ(start_ready(4), ModelStatus::kReady);
  Engine& e = engine();
  gate_.close();
  auto running = photo_job(), queued = photo_job();
  ASSERT_EQ(e.submit(running), 0);
  ASSERT_TRUE(gate_.wait_for_starts(2));
  ASSERT_EQ(e.submit(queued), 0);

  EXPECT_FALSE(e.withdraw(running));  // started: it runs to the end
  EXPECT_TRUE(e.withdraw(queued));
  EXPECT_EQ(e.queue_depth(), 0);
  EXPECT_FALSE(e.withdraw(queued));  // already gone
  auto after = photo_job();
  ASSERT_EQ(e.submit(after), 0);  // the withdrawn job's place is free

  gate_.open();
  ASSERT_TRUE(wait_done(*running));
  EXPECT_FALSE(running->error);
  EXPECT_EQ(running->matte.size(), cv::Size(64, 48));
  ASSERT_TRUE(wait_done(*after));  // runs after where the withdrawn job was
  EXPECT_FALSE(started(*queued));
  EXPECT_FALSE(done(*queued));
  const auto starts = gate_.starts();
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(starts[1].job, running.get());
  EXPECT_EQ(starts[2].job, after.get());
  EXPECT_FALSE(e.withdraw(after));  // finished
}

TEST_F(EngineTest, AQueuedJobMarkedCancelledIsSkipped) {
  ASSERT_EQ(start_ready(4), ModelStatus::kReady);
  Engine& e = engine();
  gate_.close();
  auto running = photo_job(), cancelled = photo_job(), after = photo_job();
  ASSERT_EQ(e.submit(running), 0);
  ASSERT_TRUE(gate_.wait_for_starts(2));
  ASSERT_EQ(e.submit(cancelled), 0);
  ASSERT_EQ(e.submit(after), 1);
  cancelled->cancelled = true;  // the requester gave up without withdrawing
  gate_.open();
  ASSERT_TRUE(wait_done(*after));
  EXPECT_FALSE(started(*cancelled));
  EXPECT_FALSE(done(*cancelled));
  const auto starts = gate_.starts();
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(starts[2].job, after.get());
  EXPECT_EQ(e.queue_depth(), 0);
}

// What the process handler does at a request's deadline: it waited on the job's condition variable,
// the job is still queued behind a slow one, so it withdraws it and answers 504.
TEST_F(EngineTest, AJobPastItsDeadlineBehindABlockedOneIsWithdrawnAndNeverRuns) {
  ASSERT_EQ(start_ready(4), ModelStatus::kReady);
  Engine& e = engine();
  gate_.close();
  auto slow = photo_job(), late = photo_job();
  ASSERT_EQ(e.submit(slow), 0);
  ASSERT_TRUE(gate_.wait_for_starts(2));
  ASSERT_EQ(e.submit(late), 0);
  {
    std::unique_lock lock(late->mutex);
    EXPECT_FALSE(
        late->cv.wait_until(lock, Clock::now() + std::chrono::milliseconds(20), [&] { return late->done; }));
  }
  EXPECT_TRUE(e.withdraw(late));
  EXPECT_TRUE(late->cancelled);
  gate_.open();
  ASSERT_TRUE(wait_done(*slow));
  auto next = photo_job();
  ASSERT_TRUE(e.submit(next).has_value());
  ASSERT_TRUE(wait_done(*next));
  EXPECT_FALSE(started(*late));
  EXPECT_FALSE(done(*late));
  EXPECT_EQ(gate_.starts().size(), 3u);  // the warm-up, slow and next
}

TEST_F(EngineTest, ShutdownStopsTakingJobsAndLetsTheQueuedOnesFinish) {
  ASSERT_EQ(start_ready(4), ModelStatus::kReady);
  Engine& e = engine();
  gate_.close();
  auto running = photo_job(), second = photo_job(), third = photo_job();
  ASSERT_EQ(e.submit(running), 0);
  EXPECT_TRUE(gate_.wait_for_starts(2));  // no ASSERT until the gate opens: shutdown waits for it
  ASSERT_EQ(e.submit(second), 0);
  ASSERT_EQ(e.submit(third), 1);

  auto stopped = std::async(std::launch::async, [&] { e.shutdown(); });
  EXPECT_TRUE(eventually([&] { return !e.accepting(); }));
  auto refused = photo_job();
  EXPECT_EQ(e.submit(refused), std::nullopt);
  EXPECT_EQ(e.queue_depth(), 2);  // still queued, not dropped
  gate_.open();
  ASSERT_EQ(stopped.wait_for(kPatience), std::future_status::ready);

  for (auto* job : {running.get(), second.get(), third.get()}) {
    EXPECT_TRUE(done(*job));
    EXPECT_FALSE(job->error);
    EXPECT_EQ(job->matte.size(), cv::Size(64, 48));
  }
  EXPECT_FALSE(started(*refused));
  e.shutdown();  // again: nothing left to do
  EXPECT_FALSE(e.accepting());
}

TEST_F(EngineTest, ShutdownDuringLoadingStillRunsTheWaitingRequest) {
  Engine& e = make_engine(tiny_options(4));
  auto job = photo_job();
  ASSERT_EQ(e.submit(job), 0);
  e.start();
  e.shutdown();
  EXPECT_TRUE(done(*job));
  EXPECT_FALSE(job->error);
  EXPECT_EQ(job->matte.size(), cv::Size(64, 48));
}

TEST_F(EngineTest, TypicalInferenceIsAMovingAverageOfTheMeasuredRuns) {
  Engine& e = make_engine(tiny_options(4));
  auto first = photo_job(), second = photo_job();
  ASSERT_EQ(e.submit(first), 0);
  e.start();
  ASSERT_TRUE(wait_done(*first));
  auto seconds = [](const InferenceJob& job) {
    return (job.timings.preprocess_ms + job.timings.inference_ms + job.timings.postprocess_ms) / 1000.0;
  };
  ASSERT_GT(seconds(*first), 0.0);
  const double after_first = 0.8 * 1.0 + 0.2 * seconds(*first);
  EXPECT_DOUBLE_EQ(e.typical_inference_s(), after_first);

  ASSERT_TRUE(e.submit(second).has_value());
  ASSERT_TRUE(wait_done(*second));
  EXPECT_DOUBLE_EQ(e.typical_inference_s(), 0.8 * after_first + 0.2 * seconds(*second));
}

TEST_F(EngineTest, AnInferenceErrorReachesItsJobAndLeavesTheEngineReady) {
  ASSERT_EQ(start_ready(4), ModelStatus::kReady);
  Engine& e = engine();
  const double typical = e.typical_inference_s();
  auto bad = std::make_shared<InferenceJob>();
  bad->image = cv::Mat(48, 64, CV_8UC1, cv::Scalar(128));  // the model takes RGB or RGBA
  ASSERT_TRUE(e.submit(bad).has_value());
  ASSERT_TRUE(wait_done(*bad));
  ASSERT_TRUE(bad->error);
  try {
    std::rethrow_exception(bad->error);
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kInternal);
  }
  EXPECT_TRUE(bad->matte.empty());
  EXPECT_EQ(e.typical_inference_s(), typical);  // a failed run is not a measurement
  EXPECT_EQ(e.status(), ModelStatus::kReady);
  auto good = photo_job();
  ASSERT_TRUE(e.submit(good).has_value());
  ASSERT_TRUE(wait_done(*good));
  EXPECT_FALSE(good->error);
}

TEST(EngineRetryAfter, CoversTheWaitingJobsAndTheRunningOne) {
  // Before any inference the typical inference is the 1 s guess: limit + 1 seconds.
  auto retry = [](int queue_limit) {
    return Engine(tiny_options(queue_limit), nullptr).retry_after_full_s();
  };
  EXPECT_EQ(retry(0), 1);
  EXPECT_EQ(retry(1), 2);
  EXPECT_EQ(retry(4), 5);
  EXPECT_EQ(retry(10000), 10001);
  EXPECT_EQ(retry(-3), 1);  // a negative limit is 0
  EXPECT_EQ(retry(std::numeric_limits<int>::max()), std::numeric_limits<int>::max());  // no overflow
}

TEST_F(EngineTest, RetryAfterFollowsTheMeasuredInferenceTime) {
  ASSERT_EQ(start_ready(99), ModelStatus::kReady);
  const double typical = engine().typical_inference_s();
  EXPECT_LT(typical, 1.0);  // the tiny model's warm-up took well under the 1 s guess
  const int retry = engine().retry_after_full_s();
  EXPECT_EQ(retry, static_cast<int>(std::ceil(100 * typical)));
  EXPECT_GT(retry, 80);  // 0.8 of the guess survives one measurement
  EXPECT_LT(retry, 100);
}

// Dynamic batching (issue 17) on tiny_isnet_batch, whose batch dimension is dynamic: photos queued
// behind a running one go through the model together; a lone photo waits at most the delay.
EngineOptions batch_options(int max_batch, double delay_ms, const char* file = "tiny_isnet_batch.onnx") {
  EngineOptions o;
  o.model = custom_model(testing::test_models_dir() / file, ModelKind::kIsnet, 0);
  o.session.intra_op_threads = 1;
  o.queue_limit = 8;
  o.max_batch = max_batch;
  o.batch_delay_ms = delay_ms;
  return o;
}

TEST_F(EngineTest, QueuedPhotosRunAsOneBatchWithTheSameMattes) {
  Engine& e = make_engine(batch_options(4, 2));
  e.start();
  ASSERT_EQ(e.wait_until_settled(Clock::now() + kPatience), ModelStatus::kReady);
  EXPECT_EQ(e.max_batch(), 4);
  gate_.close();
  auto running = photo_job();
  ASSERT_TRUE(e.submit(running).has_value());
  ASSERT_TRUE(eventually([&] { return started(*running); }));  // held at the gate, alone
  std::vector<std::shared_ptr<InferenceJob>> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(photo_job());
    ASSERT_TRUE(e.submit(queued.back()).has_value());
  }
  // Different photos in one batch get their own mattes: the third is inverted.
  cv::bitwise_not(queued[2]->image, queued[2]->image);
  gate_.open();
  ASSERT_TRUE(wait_done(*running));
  for (auto& job : queued) ASSERT_TRUE(wait_done(*job));
  EXPECT_EQ(running->batch, 1);
  for (auto& job : queued) {
    EXPECT_FALSE(job->error);
    EXPECT_EQ(job->batch, 3);
    EXPECT_GT(job->timings.inference_ms, 0.0);
  }
  ASSERT_EQ(running->matte.size(), cv::Size(64, 48));
  EXPECT_EQ(cv::norm(queued[0]->matte, running->matte, cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(queued[1]->matte, running->matte, cv::NORM_INF), 0);
  cv::Mat flipped;
  cv::flip(running->matte, flipped, 1);  // the inverted photo is the mirror image of the first
  EXPECT_EQ(cv::norm(queued[2]->matte, flipped, cv::NORM_INF), 0);
  EXPECT_EQ(e.in_flight(), 0);
}

TEST_F(EngineTest, ALonePhotoWaitsAtMostTheBatchDelay) {
  Engine& e = make_engine(batch_options(4, 150));
  e.start();
  ASSERT_EQ(e.wait_until_settled(Clock::now() + kPatience), ModelStatus::kReady);
  auto job = photo_job();
  ASSERT_TRUE(e.submit(job).has_value());
  ASSERT_TRUE(wait_done(*job));
  EXPECT_EQ(job->batch, 1);
  EXPECT_GE(job->queue_ms, 140.0);   // it waited for company...
  EXPECT_LT(job->queue_ms, 5000.0);  // ...a bounded time (wide: a loaded 2-core machine)
}

TEST_F(EngineTest, ABadPhotoInABatchFailsAloneAndAFixedBatchModelRunsOneAtATime) {
  Engine& e = make_engine(batch_options(4, 2));
  e.start();
  ASSERT_EQ(e.wait_until_settled(Clock::now() + kPatience), ModelStatus::kReady);
  gate_.close();
  auto running = photo_job();
  ASSERT_TRUE(e.submit(running).has_value());
  ASSERT_TRUE(eventually([&] { return started(*running); }));
  auto good = photo_job(), bad = std::make_shared<InferenceJob>();
  bad->image = cv::Mat(48, 64, CV_8UC1, cv::Scalar(128));  // the model takes RGB or RGBA
  ASSERT_TRUE(e.submit(good).has_value());
  ASSERT_TRUE(e.submit(bad).has_value());
  gate_.open();
  ASSERT_TRUE(wait_done(*good));
  ASSERT_TRUE(wait_done(*bad));
  EXPECT_FALSE(good->error);
  EXPECT_EQ(cv::norm(good->matte, running->matte, cv::NORM_INF), 0);
  EXPECT_TRUE(bad->error);
  EXPECT_EQ(e.status(), ModelStatus::kReady);
  engine_.reset();

  Engine& fixed = make_engine(batch_options(4, 2, "tiny_isnet.onnx"));
  fixed.start();
  ASSERT_EQ(fixed.wait_until_settled(Clock::now() + kPatience), ModelStatus::kReady);
  EXPECT_EQ(fixed.max_batch(), 1);  // its graph fixes the batch at 1
}

}  // namespace
}  // namespace cutout::server
