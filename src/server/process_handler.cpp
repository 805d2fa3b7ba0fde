// POST /api/v2/process (process_handler.h): one ProcessHandler per request holds its state, shared
// by the route and, for streams, by the stream writer, which runs after the route has returned.
#include "server/process_handler.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <span>
#include <thread>

#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/timer.h"
#include "server/api_error.h"
#include "server/base64.h"
#include "server/process_params.h"
#include "server/removebg.h"

namespace cutout::server {
namespace {

using Clock = std::chrono::steady_clock;

enum class WaitResult { kDone, kTimeout, kClientGone };

WaitResult wait_for(InferenceJob& job, Clock::time_point deadline, const std::function<bool()>& client_gone) {
  std::unique_lock lock(job.mutex);
  for (;;) {
    if (job.cv.wait_for(lock, std::chrono::milliseconds(25), [&] { return job.done; }))
      return WaitResult::kDone;
    if (Clock::now() >= deadline) return WaitResult::kTimeout;
    lock.unlock();
    const bool gone = client_gone && client_gone();
    lock.lock();
    if (gone) return WaitResult::kClientGone;
  }
}

std::string sse_event(std::string_view name, const nlohmann::json& data) {
  return "event: " + std::string(name) +
         "\ndata: " + data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

Histogram& stage_histogram(MetricsRegistry& metrics, const std::string& stage) {
  return metrics.histogram("cutout_stage_duration_seconds", "Duration of each stage of a process request",
                           latency_buckets(), {{"stage", stage}});
}

Counter& cold_requests(MetricsRegistry& metrics) {
  return metrics.counter("cutout_cold_requests_total", "Process requests that waited for the model");
}

// timings_ms of an answer: the stages after the matte, and decode; the caller adds queue and
// inference where there are some.
nlohmann::json stage_timings_json(const StageTimings& t) {
  nlohmann::json effects = nlohmann::json::object();
  for (const auto& [effect, ms] : t.effect_ms) effects[std::string(effect_name(effect))] = ms;
  return {{"decode", t.decode_ms}, {"refine", t.refine_ms}, {"decontaminate", t.decontaminate_ms},
          {"effects", effects},    {"encode", t.encode_ms}, {"total", t.total_ms}};
}

void count_outputs(MetricsRegistry& metrics, const std::vector<NamedOutput>& outputs) {
  for (const auto& o : outputs) {
    metrics.counter("cutout_outputs_total", "Outputs made, by effect", {{"effect", o.name}}).inc();
  }
}

// The JSON result: `head` and the outputs; the images are base64 strings appended without a JSON
// re-escape (base64 needs none), since they are megabytes.
std::string result_body(const nlohmann::json& head, const std::vector<NamedOutput>& outputs) {
  std::string body = head.dump();
  body.pop_back();  // the closing brace; outputs follow
  size_t total = body.size() + 64;
  for (const auto& o : outputs) total += base64_size(o.image.bytes.size()) + 96;
  body.reserve(total);
  body += ",\"outputs\":{";
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto& o = outputs[i];
    body += (i ? ",\"" : "\"") + o.name + "\":{\"mime\":\"" + std::string(output_mime_type(o.image.format)) +
            "\",\"bytes\":" + std::to_string(o.image.bytes.size()) + ",\"data\":\"";
    append_base64(o.image.bytes, body);
    body += "\"}";
  }
  body += "}}";
  return body;
}

// Every output in one ZIP archive, <name>.<ext> each (response=zip).
HttpResponse zip_answer(const std::vector<NamedOutput>& outputs, int width, int height) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
  for (const auto& o : outputs)
    files.emplace_back(o.name + "." + std::string(output_extension(o.image.format)), o.image.bytes);
  const std::vector<uint8_t> zip = zip_stored(files);
  HttpResponse r;
  r.content_type = "application/zip";
  r.body.assign(zip.begin(), zip.end());
  r.headers = {{"Content-Disposition", "attachment; filename=\"cutout.zip\""},
               {"X-Cutout-Width", std::to_string(width)},
               {"X-Cutout-Height", std::to_string(height)}};
  return r;
}

// One output's bytes as the answer, with its name and size in headers (and `extra` ones).
HttpResponse image_answer(const NamedOutput& o, int width, int height,
                          std::vector<std::pair<std::string, std::string>> extra) {
  HttpResponse r;
  r.content_type = std::string(output_mime_type(o.image.format));
  r.body.assign(o.image.bytes.begin(), o.image.bytes.end());
  r.headers = {{"X-Cutout-Output", o.name},
               {"X-Cutout-Width", std::to_string(width)},
               {"X-Cutout-Height", std::to_string(height)}};
  for (auto& h : extra) r.headers.push_back(std::move(h));
  return r;
}

}  // namespace

// The state of one process request, shared by the route and (for streams) the stream writer,
// which runs after the route has returned.
class ProcessHandler {
 public:
  ProcessHandler(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics, ProcessParams params,
                 std::string request_id, Clock::time_point start, std::function<bool()> client_gone)
      : config_(config),
        engine_(engine),
        metrics_(metrics),
        params_(std::move(params)),
        request_id_(std::move(request_id)),
        start_(start),
        client_gone_(std::move(client_gone)) {}

  // Decodes and queues; throws ApiException for bad input or a full queue.
  void accept(std::string_view bytes, RequestInfo& info) {
    const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    try {
      decoded_ = decode_for_cutout(data, params_.options, timings_);
    } catch (const Error& e) {
      const ApiError error = api_error_from(e);
      reject(error.code);
      throw ApiException(error);
    }
    width_ = decoded_.pixels.cols;
    height_ = decoded_.pixels.rows;
    job_ = std::make_shared<InferenceJob>();
    job_->image = decoded_.pixels;
    cold_ = engine_.status() != ModelStatus::kReady;
    const auto position = engine_.submit(job_);
    if (!position) {
      if (!engine_.accepting()) {
        reject(ApiCode::kNotReady);
        const std::string why = engine_.status() == ModelStatus::kFailed
                                    ? "the model failed: " + engine_.failure()
                                    : std::string("the server is shutting down");
        throw ApiException(ApiCode::kNotReady, why);
      }
      reject(ApiCode::kOverloaded);
      throw ApiException(
          ApiCode::kOverloaded,
          "the queue is full (" + std::to_string(engine_.queue_limit()) + " waiting); retry later",
          engine_.retry_after_full_s());
    }
    position_ = *position;
    info.cold_start = cold_;
    if (cold_) cold_requests(metrics_).inc();
  }

  // Waits for the matte and cuts out (the edge stages, crop and max_side as asked); throws
  // ApiException on timeout or model failure. Returns false if the client left.
  bool cut_out(const std::function<bool()>& gone, cv::Mat& cutout) {
    const auto deadline = start_ + std::chrono::milliseconds(config_.request_timeout_ms);
    switch (wait_for(*job_, deadline, gone)) {
      case WaitResult::kDone:
        break;
      case WaitResult::kTimeout:
        engine_.withdraw(job_);
        reject(ApiCode::kTimeout);
        throw ApiException(ApiCode::kTimeout,
                           "no result within " + std::to_string(config_.request_timeout_ms) + " ms");
      case WaitResult::kClientGone:
        engine_.withdraw(job_);
        reject(ApiCode::kClientGone);
        return false;
    }
    if (job_->error) {
      try {
        std::rethrow_exception(job_->error);
      } catch (const Error& e) {
        throw ApiException(api_error_from(e));
      }
    }
    timings_.preprocess_ms = job_->timings.preprocess_ms;
    timings_.inference_ms = job_->timings.inference_ms;
    timings_.postprocess_ms = job_->timings.postprocess_ms;
    segmented_ = true;
    if (on_segmented_) on_segmented_();
    cutout =
        finish_cutout(std::move(decoded_), std::move(job_->matte), params_.options, timings_, &backdrop_);
    job_->matte.release();
    return true;
  }

  // Waits for the matte, renders and encodes; throws ApiException on timeout or model failure.
  // `on_output` reports each finished output (streams). Returns false if the client left.
  bool complete(const OutputReadyFn& on_output, const std::function<bool()>& gone) {
    cv::Mat cutout;
    if (!cut_out(gone, cutout)) return false;
    outputs_ = render_outputs(cutout, params_.options, timings_, on_output, backdrop_);
    timings_.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
    out_width_ = cutout.cols;
    out_height_ = cutout.rows;
    count_outputs(metrics_, outputs_);
    observe_stages();
    return true;
  }

  nlohmann::json timings_json() const {
    nlohmann::json t = stage_timings_json(timings_);
    t["queue"] = job_ ? job_->queue_ms : 0.0;
    t["inference"] = timings_.preprocess_ms + timings_.inference_ms + timings_.postprocess_ms;
    if (job_ && job_->batch > 1) t["batch"] = job_->batch;  // photos that shared its inference
    return t;
  }

  std::string result_json() const {
    return result_body({{"request_id", request_id_},
                        {"model", engine_.model().name},
                        {"width", out_width_},
                        {"height", out_height_},
                        {"cold_start", cold_},
                        {"timings_ms", timings_json()}},
                       outputs_);
  }

  HttpResponse image_response() const {
    return image_answer(outputs_.at(0), out_width_, out_height_,
                        {{"X-Cutout-Model", engine_.model().name},
                         {"X-Cutout-Cold-Start", cold_ ? "true" : "false"},
                         {"X-Cutout-Timings-Ms", timings_json().dump()}});
  }

  // A refusal, counted under its code's reason (a bug, `internal`, is not a refusal).
  void reject(ApiCode code) {
    const std::string_view reason = api_code_info(code).reason;
    if (!reason.empty()) rejected_counter(metrics_, reason).inc();
  }

  // The finished request's stages (seconds) in the stage histogram.
  void observe_stages() {
    auto observe = [&](const char* stage, double ms) {
      stage_histogram(metrics_, stage).observe(ms / 1000.0);
    };
    observe("queue", job_->queue_ms);
    observe("decode", timings_.decode_ms);
    observe("inference", timings_.preprocess_ms + timings_.inference_ms + timings_.postprocess_ms);
    if (params_.options.refine != RefineMethod::kNone) observe("refine", timings_.refine_ms);
    if (params_.options.decontaminate) observe("decontaminate", timings_.decontaminate_ms);
    observe("effects", timings_.effects_ms);
    observe("encode", timings_.encode_ms);
    observe("total", timings_.total_ms);
  }

  const ServeConfig& config_;
  Engine& engine_;
  MetricsRegistry& metrics_;
  ProcessParams params_;
  std::string request_id_;
  Clock::time_point start_;
  std::function<bool()> client_gone_;
  std::function<void()> on_segmented_;
  StageTimings timings_;
  DecodedImage decoded_;
  cv::Mat backdrop_;  // background=blur: the blurred photo
  std::shared_ptr<InferenceJob> job_;
  std::vector<NamedOutput> outputs_;
  bool cold_ = false, segmented_ = false;
  int position_ = 0, width_ = 0, height_ = 0, out_width_ = 0, out_height_ = 0;
};

ProcessRoute::ProcessRoute(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics,
                           const std::atomic<bool>& draining)
    : config_(config), engine_(engine), metrics_(metrics), draining_(draining) {
  for (const char* stage :
       {"queue", "decode", "inference", "refine", "decontaminate", "effects", "encode", "total"})
    stage_histogram(metrics_, stage);
  cold_requests(metrics_);
}

HttpResponse ProcessRoute::operator()(HttpRequest& request, RequestInfo& info) const {
  const auto start = Clock::now();
  if (draining_) throw ApiException(ApiCode::kNotReady, "the server is shutting down");
  auto handler = std::make_shared<ProcessHandler>(
      config_, engine_, metrics_, parse_process_params(request, config_.max_output_side, config_.max_pixels),
      info.request_id, start, request.client_gone);
  handler->accept(image_bytes(request), info);

  if (!handler->params_.stream) {
    if (!handler->complete({}, handler->client_gone_)) {
      const ApiCodeInfo& gone_code = api_code_info(ApiCode::kClientGone);
      info.error_code = gone_code.name;
      HttpResponse gone;
      gone.status = gone_code.status;  // nginx's "client closed request": for the log and metrics only
      return gone;
    }
    info.timings = handler->timings_json();
    if (handler->params_.image_response) return handler->image_response();
    if (handler->params_.zip_response)
      return zip_answer(handler->outputs_, handler->out_width_, handler->out_height_);
    HttpResponse r;
    r.body = handler->result_json();
    return r;
  }

  // Server-sent events: the real stages as they happen. Errors after this point arrive as an
  // `error` event (the status line, 200, is already sent); the outcome goes in the access log.
  HttpResponse r;
  r.content_type = "text/event-stream";
  r.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  info.stream = [handler](EventSink& sink, RequestInfo& outcome) {
    std::mutex write_mutex;
    bool open = true;
    auto send = [&](std::string_view name, const nlohmann::json& data) {
      std::lock_guard lock(write_mutex);
      open = open && sink.write(sse_event(name, data));
    };
    auto fail = [&](const ApiError& error) {
      outcome.outcome_status = error.status();
      outcome.error_code = error.name();
      const std::string event = "event: error\ndata: " + error_body(error, handler->request_id_) + "\n\n";
      std::lock_guard lock(write_mutex);
      open = open && sink.write(event);
    };
    send("queued", {{"position", handler->position_}, {"cold_start", handler->cold_}});
    send("decoded",
         {{"width", handler->width_}, {"height", handler->height_}, {"ms", handler->timings_.decode_ms}});
    handler->on_segmented_ = [&] {
      send("segmented", {{"queue_ms", handler->job_->queue_ms},
                         {"ms", handler->timings_.preprocess_ms + handler->timings_.inference_ms +
                                    handler->timings_.postprocess_ms}});
    };
    auto gone = [&] {
      std::lock_guard lock(write_mutex);
      return !open || handler->client_gone_();
    };
    try {
      if (!handler->complete(
              [&](const std::string& name, double ms) {
                send("effect", {{"effect", name}, {"ms", ms}});
              },
              gone)) {
        outcome.outcome_status = api_code_info(ApiCode::kClientGone).status;
        outcome.error_code = api_code_info(ApiCode::kClientGone).name;
        return;
      }
      outcome.timings = handler->timings_json();
      std::string result = "event: result\ndata: " + handler->result_json() + "\n\n";
      std::lock_guard lock(write_mutex);
      if (open) sink.write(result);
    } catch (const std::exception& e) {
      fail(api_error_from(e));  // an ApiException's own error, or what a core error maps to
    }
  };
  return r;
}

EngineCutout cut_out_with_engine(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics,
                                 const RemoveOptions& options, std::string_view bytes,
                                 const HttpRequest& request, RequestInfo& info) {
  ProcessParams params;
  params.options = options;
  ProcessHandler handler(config, engine, metrics, std::move(params), info.request_id, Clock::now(),
                         request.client_gone);
  handler.accept(bytes, info);
  EngineCutout out;
  if (!handler.cut_out(handler.client_gone_, out.rgba)) {
    throw ApiException(ApiCode::kClientGone, "the client left before its result");
  }
  out.timings = handler.timings_;
  out.queue_ms = handler.job_->queue_ms;
  out.cold_start = handler.cold_;
  return out;
}

namespace {

// The matte a client sends back (the `mask` output, or any image of the photo's shape): its alpha
// when it has transparency (a cut-out PNG), else its grey level; resized to the photo when it has
// the photo's shape at another size (the mask of a max_side output).
cv::Mat client_matte(std::string_view bytes, cv::Size photo, uint64_t max_pixels) {
  DecodedImage decoded;
  try {
    DecodeOptions options;
    options.max_pixels = max_pixels;
    decoded = decode_image(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), options);
  } catch (const Error& e) {
    ApiError error = api_error_from(e);
    error.message = "matte: " + error.message;
    throw ApiException(error);
  }
  cv::Mat matte;
  if (decoded.has_alpha && decoded.pixels.channels() == 4) {
    cv::extractChannel(decoded.pixels, matte, 3);
  } else {
    cv::cvtColor(decoded.pixels, matte,
                 decoded.pixels.channels() == 4 ? cv::COLOR_RGBA2GRAY : cv::COLOR_RGB2GRAY);
  }
  if (matte.size() == photo) return matte;
  // The same shape: width/height equal up to the rounding of one scale factor (a pixel).
  const int64_t cross =
      static_cast<int64_t>(matte.cols) * photo.height - static_cast<int64_t>(matte.rows) * photo.width;
  if (std::abs(cross) > std::max(photo.width, photo.height) || matte.cols < 16 || matte.rows < 16) {
    throw ApiException(bad_request("the matte is " + std::to_string(matte.cols) + "x" +
                                   std::to_string(matte.rows) + " and the photo " +
                                   std::to_string(photo.width) + "x" + std::to_string(photo.height) +
                                   ": it must be the photo's mask (same size, or the same shape scaled)"));
  }
  cv::Mat resized;
  cv::resize(matte, resized, photo, 0, 0, cv::INTER_LINEAR);
  return resized;
}

}  // namespace

RenderRoute::RenderRoute(const ServeConfig& config, MetricsRegistry& metrics,
                         const std::atomic<bool>& draining)
    : config_(config),
      metrics_(metrics),
      draining_(draining),
      limit_(std::max(2, 2 * static_cast<int>(std::thread::hardware_concurrency()))) {}

HttpResponse RenderRoute::operator()(HttpRequest& request, RequestInfo& info) const {
  const auto start = Clock::now();
  if (draining_) throw ApiException(ApiCode::kNotReady, "the server is shutting down");
  ProcessParams params = parse_process_params(request, config_.max_output_side, config_.max_pixels, true);
  const std::string_view photo = image_bytes(request);
  std::string_view matte_bytes;
  if (auto f = request.files.find("matte"); f != request.files.end()) {
    matte_bytes = f->second.content;
  } else if (auto v = request.form.find("matte"); v != request.form.end()) {
    matte_bytes = v->second;
  }
  if (matte_bytes.empty()) {
    throw ApiException(
        bad_request("no matte: send the photo's mask (the mask output of /api/v2/process) "
                    "as a multipart 'matte' part with the 'image' part"));
  }
  // Rendering has no queue of its own: past `limit_` renders at once, refuse rather than pile up.
  struct Slot {
    std::atomic<int>& n;
    ~Slot() { --n; }
  } slot{active_};
  if (++active_ > limit_) {
    rejected_counter(metrics_, api_code_info(ApiCode::kOverloaded).reason).inc();
    throw ApiException(ApiCode::kOverloaded,
                       "too many renders at once (" + std::to_string(limit_) + "); retry later", 1);
  }
  StageTimings timings;
  DecodedImage decoded;
  try {
    decoded = decode_for_cutout(std::span(reinterpret_cast<const uint8_t*>(photo.data()), photo.size()),
                                params.options, timings);
  } catch (const Error& e) {
    const ApiError error = api_error_from(e);
    if (const std::string_view reason = api_code_info(error.code).reason; !reason.empty())
      rejected_counter(metrics_, reason).inc();
    throw ApiException(error);
  }
  cv::Mat matte = client_matte(matte_bytes, decoded.pixels.size(), config_.max_pixels);
  cv::Mat backdrop;
  const cv::Mat cutout =
      finish_cutout(std::move(decoded), std::move(matte), params.options, timings, &backdrop);
  const std::vector<NamedOutput> outputs = render_outputs(cutout, params.options, timings, {}, backdrop);
  timings.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  count_outputs(metrics_, outputs);
  const nlohmann::json timings_ms = stage_timings_json(timings);
  info.timings = timings_ms;
  if (params.zip_response) return zip_answer(outputs, cutout.cols, cutout.rows);
  if (params.image_response) {
    return image_answer(outputs.at(0), cutout.cols, cutout.rows,
                        {{"X-Cutout-Timings-Ms", timings_ms.dump()}});
  }
  HttpResponse r;
  r.body = result_body({{"request_id", info.request_id},
                        {"width", cutout.cols},
                        {"height", cutout.rows},
                        {"timings_ms", timings_ms}},
                       outputs);
  return r;
}

}  // namespace cutout::server
