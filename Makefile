# metricsd — top-level entry points. Every target installs missing Debian packages first.
#   make build   configure + build into build/ (executables in build/bin/)
#   make test    build, then run every test (unit, integration, promtool) through ctest
#   make clean   remove build/
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= OFF
JOBS ?= $(shell nproc)
GENERATOR = $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all deps configure build test clean format

all: build

deps:
	@scripts/install-deps

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

format:
	@git ls-files '*.cpp' '*.hpp' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
