# metricsd — top-level entry points. Every target installs missing Debian packages first
# (checked once per build directory, and again whenever scripts/install-deps changes).
#   make build   configure + build into build/ (executables in build/bin/)
#   make test    build, then run every test (unit, integration, promtool) through ctest
#   make run     build, then start the daemon on the memory backend (foreground)
#   make bench   build, then run the benchmarks
#   make clean   remove build/
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= OFF
JOBS ?= $(shell nproc)
GENERATOR = $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all deps configure build test run bench clean format

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

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Start the daemon on the memory backend, in the foreground (Ctrl-C stops it).
RUN_SOCKET ?= $(BUILD_DIR)/metricsd.sock
RUN_LISTEN ?= 127.0.0.1:9477
run: build
	@$(BUILD_DIR)/bin/metricsd --backend memory --socket $(RUN_SOCKET) --listen $(RUN_LISTEN)

# Benchmarks: medians of several runs, with the machine they ran on.
bench: build
	@bench/run $(BUILD_DIR) --results bench/RESULTS.md

format:
	@git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
