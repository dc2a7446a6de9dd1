# metricsd — top-level entry points. Every target installs missing Debian packages first
# (checked once per build directory, and again whenever scripts/install-deps changes).
#   make build   configure + build into build/ (executables in build/bin/)
#   make test    what CI checks: test-plain, then test-sanitize, then fuzz-smoke
#   make test-plain     build, then run every test (unit, integration, promtool) through ctest
#   make test-sanitize  the same tests on an ASan+UBSan build in build-asan/ (its own daemon)
#   make fuzz           build the libFuzzer targets (clang) in build-fuzz/ and run each for
#                       FUZZ_SECONDS (default 60); fails on a crash, reproducer in build-fuzz/crashes/
#   make fuzz-smoke     the same, FUZZ_SMOKE_SECONDS (default 15) per target
#   make run     build the daemon alone, then start it on the memory backend (foreground)
#   make bench   build, then run the benchmarks
#   make clean   remove build/, build-asan/ and build-fuzz/
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= OFF
JOBS ?= $(shell nproc)
GENERATOR = $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all deps configure build test test-plain fuzz-build test-sanitize fuzz fuzz-smoke run bench clean format

all: build

# The package check runs when the stamp is missing (a fresh clone, after `make clean`) or older
# than scripts/install-deps (its package list changed); otherwise a build does not look at dpkg.
# A package removed by hand later is not noticed: `rm $(DEPS_STAMP)` checks again.
DEPS_STAMP = $(BUILD_DIR)/.deps-installed

deps: $(DEPS_STAMP)

$(DEPS_STAMP): scripts/install-deps
	@scripts/install-deps
	@mkdir -p $(BUILD_DIR) && touch $@

# The generator is chosen once, when the build directory is created.
configure: deps
	@if [ -f $(BUILD_DIR)/CMakeCache.txt ]; then \
	    cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DMETRICSD_WERROR=$(WERROR) >/dev/null; \
	else \
	    cmake -S . -B $(BUILD_DIR) -G "$(GENERATOR)" \
	        -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DMETRICSD_WERROR=$(WERROR) >/dev/null; \
	fi

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# One after the other, not as parallel prerequisites: each already uses every core, and the
# cheapest run fails first. Each builds in its own directory (build/, build-asan/, build-fuzz/).
test:
	@$(MAKE) --no-print-directory test-plain
	@$(MAKE) --no-print-directory test-sanitize
	@$(MAKE) --no-print-directory fuzz-smoke

test-plain: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# ASan+UBSan build of the whole tree: unit and integration tests run against the sanitized
# daemon (the tests find the daemon of their own build directory). -O1 keeps the run fast
# enough for CI without hiding the frames ASan reports. Any finding fails the test. The
# benchmarks are left out: they are no tests, and time-bound runs mean nothing under ASan.
SAN_BUILD_DIR ?= build-asan
SAN_FLAGS = -O1 -g
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
test-sanitize: deps
	@if [ ! -f $(SAN_BUILD_DIR)/CMakeCache.txt ]; then \
	    cmake -S . -B $(SAN_BUILD_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$(SAN_FLAGS)" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$(SAN_FLAGS)" \
	        "-DMETRICSD_SANITIZE=address;undefined" -DMETRICSD_BUILD_BENCH=OFF >/dev/null; \
	fi
	@cmake -S . -B $(SAN_BUILD_DIR) -DMETRICSD_WERROR=$(WERROR) >/dev/null
	@cmake --build $(SAN_BUILD_DIR) -j $(JOBS)
	@cd $(SAN_BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# libFuzzer targets (fuzz/), clang with ASan+UBSan, built alone in their own directory so the
# normal build is untouched. fuzz/run seeds each from the test vectors and fuzz/corpus/.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 15
fuzz-build: deps
	@if [ ! -f $(FUZZ_BUILD_DIR)/CMakeCache.txt ]; then \
	    cmake -S . -B $(FUZZ_BUILD_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	        -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DMETRICSD_FUZZ=ON \
	        -DMETRICSD_BUILD_TESTS=OFF "-DMETRICSD_SANITIZE=address;undefined" >/dev/null; \
	fi
	@cmake -S . -B $(FUZZ_BUILD_DIR) -DMETRICSD_WERROR=$(WERROR) >/dev/null
	@cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	@fuzz/run $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	@fuzz/run $(FUZZ_BUILD_DIR) $(FUZZ_SMOKE_SECONDS)

# Start the daemon on the memory backend, in the foreground (Ctrl-C stops it). Builds the daemon
# only: a clean clone would otherwise build every test and benchmark first.
RUN_SOCKET ?= $(BUILD_DIR)/metricsd.sock
RUN_LISTEN ?= 127.0.0.1:9477
run: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target metricsd
	@echo "metricsd: workers find this daemon with: export METRICSD_SOCKET=$(abspath $(RUN_SOCKET))"
	@$(BUILD_DIR)/bin/metricsd --backend memory --socket $(RUN_SOCKET) --listen $(RUN_LISTEN)

# Benchmarks: medians of several runs, with the machine they ran on.
bench: build
	@bench/run $(BUILD_DIR) --results bench/RESULTS.md

format:
	@git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(SAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
