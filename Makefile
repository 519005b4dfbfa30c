# The front door. Every target installs what it is missing first (build/setup.sh), so these
# work on a fresh Debian 12 machine:
#   make          build everything; Windows deliverables land in dist/
#   make run      run the service under Wine with a default configuration
#   make test     the whole suite: native, sanitizers + fuzzers, and under Wine
#   make bench    the benchmarks
#   make fuzz     every fuzzer for FUZZ_SECONDS each (default 300), corpora kept in out/fuzz
#   make format   clang-format the tree
SHELL := /bin/bash
.DEFAULT_GOAL := all
OUT := out
JOBS ?= $(shell nproc)
CTEST := ctest --output-on-failure -j $(JOBS)

.PHONY: all setup native win asan dist test test-native test-asan test-wine bench run \
        format format-check clean fuzz

setup:
	@build/setup.sh

$(OUT)/native/CMakeCache.txt: | setup
	cmake -S . -B $(OUT)/native -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(OUT)/asan/CMakeCache.txt: | setup
	CC=clang cmake -S . -B $(OUT)/asan -DCMAKE_BUILD_TYPE=Debug -DIMSRELAY_SANITIZE=ON \
		-DIMSRELAY_FUZZ=ON >/dev/null

$(OUT)/deps/cmocka-mingw/lib/libcmocka.a: | setup
	build/cmocka-mingw.sh $(OUT)/deps

$(OUT)/deps/mbedtls-mingw/lib/libmbedtls.a: | setup
	JOBS=$(JOBS) build/mbedtls-mingw.sh $(OUT)/deps

$(OUT)/win/CMakeCache.txt: | setup $(OUT)/deps/cmocka-mingw/lib/libcmocka.a \
		$(OUT)/deps/mbedtls-mingw/lib/libmbedtls.a
	cmake -S . -B $(OUT)/win -DCMAKE_TOOLCHAIN_FILE=build/mingw-w64-x86_64.cmake \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

native: $(OUT)/native/CMakeCache.txt
	cmake --build $(OUT)/native -j $(JOBS)

asan: $(OUT)/asan/CMakeCache.txt
	cmake --build $(OUT)/asan -j $(JOBS)

win: $(OUT)/win/CMakeCache.txt
	cmake --build $(OUT)/win -j $(JOBS)

# Windows deliverables: whatever the Windows build produced for shipping.
dist: win
	@mkdir -p dist
	@for f in $(OUT)/win/service/imsrelay.exe $(OUT)/win/installer/imsrelay-setup.exe; do \
		if [ -f $$f ]; then cp -u $$f dist/; fi; done

all: native dist

test: format-check test-native test-asan test-wine
	@echo "make test: all suites passed"

test-native: native
	cd $(OUT)/native && $(CTEST)

test-asan: asan
	cd $(OUT)/asan && $(CTEST)

test-wine: dist
	cd $(OUT)/win && $(CTEST)
	@source build/wine-env.sh && wineserver -k 2>/dev/null || true

bench: dist $(OUT)/bench/CMakeCache.txt
	cmake --build $(OUT)/bench -j $(JOBS)
	tests/bench/run $(OUT)/bench

$(OUT)/bench/CMakeCache.txt: | setup
	cmake -S . -B $(OUT)/bench -DCMAKE_BUILD_TYPE=Release >/dev/null

# The same fuzz targets `make test` runs for 15 s each, for longer, in their own tree so that
# their corpora grow from run to run.
FUZZ_SECONDS ?= 300
fuzz: | setup
	CC=clang cmake -S . -B $(OUT)/fuzz -DCMAKE_BUILD_TYPE=Debug -DIMSRELAY_SANITIZE=ON \
		-DIMSRELAY_FUZZ=ON -DIMSRELAY_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build $(OUT)/fuzz -j $(JOBS)
	cd $(OUT)/fuzz && ctest --output-on-failure -j $(JOBS) -L fuzz --timeout $$(($(FUZZ_SECONDS) + 120))

run: dist
	build/make-run.sh

CLANG_FORMAT := clang-format-16
FORMAT_FILES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h')
format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

format-check: | setup
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(OUT) dist
