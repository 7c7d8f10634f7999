# The two README commands:
#   make run   - install deps, build Release, start `ironbus serve` (zero-config data dir)
#   make test  - install deps, build, run the whole CTest suite, the ASan+UBSan suite and the
#                fuzz smoke
.PHONY: run test build deps unit asan tsan fuzz-smoke bench clean deb static

JOBS ?= $(shell nproc)
GEN := -G Ninja
RELEASE_DIR := build/release
TEST_DIR := build/test
ASAN_DIR := build/asan
TSAN_DIR := build/tsan
FUZZ_DIR := build/fuzz
STATIC_DIR := build/static
DEB_DIR := build/deb

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(RELEASE_DIR) $(GEN) -DCMAKE_BUILD_TYPE=Release -DIRONBUS_TESTS=OFF \
	  -DIRONBUS_BENCH=OFF -DIRONBUS_CRASH_POINTS=OFF >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) --target ironbus

# The Debian package of the Release binary (docs/operations.md): $(DEB_DIR)/ironbus-linux-<arch>.deb
deb: build
	@scripts/build-deb.sh $(RELEASE_DIR)/ironbus $(DEB_DIR)

# One fully static binary (-DIRONBUS_STATIC=ON): $(STATIC_DIR)/ironbus
static: deps
	@cmake -S . -B $(STATIC_DIR) $(GEN) -DCMAKE_BUILD_TYPE=Release -DIRONBUS_STATIC=ON -DIRONBUS_TESTS=OFF \
	  -DIRONBUS_BENCH=OFF -DIRONBUS_CRASH_POINTS=OFF >/dev/null
	@cmake --build $(STATIC_DIR) -j $(JOBS) --target ironbus
	@file $(STATIC_DIR)/ironbus

run: build
	$(RELEASE_DIR)/ironbus serve $(ARGS)

unit: deps
	@cmake -S . -B $(TEST_DIR) $(GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(TEST_DIR) -j $(JOBS)
	cd $(TEST_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

asan: deps
	@cmake -S . -B $(ASAN_DIR) $(GEN) -DCMAKE_BUILD_TYPE=Debug -DIRONBUS_SANITIZE=ON -DIRONBUS_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && IRONBUS_SWEEP_SCALE=$${IRONBUS_ASAN_SWEEP_SCALE:-0.25} \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900

tsan: deps
	@cmake -S . -B $(TSAN_DIR) $(GEN) -DCMAKE_BUILD_TYPE=Debug -DIRONBUS_TSAN=ON -DIRONBUS_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_DIR) -j $(JOBS) --target storage_tests crash_tests queue_tests server_tests client_tests
	cd $(TSAN_DIR) && IRONBUS_SWEEP_SCALE=0.1 TSAN_OPTIONS=halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900 -L "storage|crash|queue|server|client"

fuzz-smoke: deps
	@scripts/fuzz-smoke.sh $(FUZZ_DIR)

bench: deps
	@cmake -S . -B $(RELEASE_DIR)-bench $(GEN) -DCMAKE_BUILD_TYPE=Release -DIRONBUS_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE_DIR)-bench -j $(JOBS)
	$(RELEASE_DIR)-bench/bench/append_bench
	$(RELEASE_DIR)-bench/bench/pub_bench
	$(RELEASE_DIR)-bench/bench/consume_bench

test: unit asan tsan fuzz-smoke

clean:
	rm -rf build

# Side-by-side benchmark against Redis Streams, NATS JetStream and the disk floor (bench/peers/README.md):
# installs the peers, runs bench/peers/run.sh (QUICK=1 for a smoke run, WIDE=1 for 1 KiB/4 KiB too) and
# writes bench/results/peers-<date>.md/.json and latest.md/.json.
.PHONY: bench-peers
bench-peers: build
	@bench/peers/install.sh
	bench/peers/run.sh

# The same run with the fully static binary of `make static` (its peak RSS holds no shared-library
# pages; docs/performance.md "Memory"): bench/results/peers-<date>-static.md/.json
.PHONY: bench-peers-static
bench-peers-static: static
	@bench/peers/install.sh
	IRONBUS=$(STATIC_DIR)/ironbus OUT_NAME=$${OUT_NAME:-peers-$$(date -u +%Y-%m-%d)-static} bench/peers/run.sh
