# cutout: the two commands a new machine needs are `make run` and `make test`.
BUILD_DIR ?= build
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all setup build test test-unit test-model test-e2e test-browser test-container test-asan test-tsan check-format soak run bench bench-server bench-threads contact-sheet screenshots fuzz fuzz-smoke clean

all: build

# Debian packages, ONNX Runtime and the models (pinned, sha256-verified); idempotent.
setup:
	@scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR)

# Every test: unit (tiny generated models), model (the real ISNet models), e2e (the service) and
# browser (the page and dashboard in Chromium).
test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 1500

test-unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L unit -j2

test-model: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L model

test-e2e: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L e2e

test-browser: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L browser

# Every tracked C/C++ file as .clang-format writes it (clang-format 14; CI runs this first).
check-format: setup
	@scripts/check_format.sh

# The unit and e2e tests under AddressSanitizer + UBSan, or ThreadSanitizer, each in its own
# build folder (build-asan, build-tsan; scripts/test_sanitizers.sh).
test-asan: setup
	@scripts/test_sanitizers.sh asan

test-tsan: setup
	@scripts/test_sanitizers.sh tsan

# Mixed traffic, bad inputs, disconnects and slow clients against one server for SOAK_MINUTES
# (default 30): statuses, RSS, descriptors, threads, p50/p99 (bench/soak.py; not in make test).
SOAK_MINUTES ?= 30
soak: build
	@/usr/bin/python3 bench/soak.py --cutout $(BUILD_DIR)/cutout --image ../shared/eval/grabcut/images/person1.jpg \
	  --minutes $(SOAK_MINUTES) --out $(BUILD_DIR)/soak.json --plot $(BUILD_DIR)/soak.svg

# The libFuzzer targets of fuzz/ (clang 14, ASan + UBSan, built into build-fuzz/), one after the
# other, each for $(FUZZ_SECONDS) s; a summary table, and a non-zero exit when one found something.
FUZZ_SECONDS ?= 600
fuzz: setup
	@scripts/fuzz.sh --seconds $(FUZZ_SECONDS)

# The same at 30 s a target: every target builds, runs and finds nothing quickly.
fuzz-smoke: setup
	@scripts/fuzz.sh --seconds 30

# deploy/Dockerfile built and run for real (minutes; not part of `make test`): base images made
# from Debian's packages, buildah, then /readyz, one process request and a SIGTERM drain.
test-container:
	@scripts/test_container.sh

# The pipeline benchmark on a 1024x1024 and a 12 MP photo (docs/PERFORMANCE.md).
bench: build
	@bench/run_pipeline_bench.sh $(BUILD_DIR)
	@$(BUILD_DIR)/bench/effects_bench

# The service benchmark of docs/PERFORMANCE.md (cold start, warm latency, 8-client load).
bench-server: build
	@bench/server_bench.py --build $(BUILD_DIR)

# Cold start against warm latency at 1 and 2 threads, in one run (docs/OPERATIONS.md).
bench-threads: build
	@bench/threads_bench.py --build $(BUILD_DIR)

# docs/effects_contact_sheet.png: six eval photos through the four effects; and
# docs/edges_contact_sheet.jpg: hair before and after refine=guided + decontaminate=true.
contact-sheet: build
	@scripts/contact_sheet.sh $(BUILD_DIR)
	@scripts/edges_contact_sheet.sh $(BUILD_DIR)

# docs/screenshots/: the page (desktop, phone) and the dashboard, in Chromium. Look at them.
screenshots: build
	@CUTOUT_BIN=$(BUILD_DIR)/cutout node tests/browser/screenshots.cjs

# The service on the default model (port: $PORT or $CUTOUT_PORT, else 8080).
run: build
	@$(BUILD_DIR)/cutout models
	$(BUILD_DIR)/cutout serve

clean:
	rm -rf $(BUILD_DIR)
