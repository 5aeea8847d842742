# duckling — convenience front end over CMake. See README.md.
BUILD      ?= build
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 600
CMAKE_GEN  := cmake -S . -G "Unix Makefiles"

.PHONY: all deps check test unit fuzz fuzz-check bench demo clean format

all:
	@$(CMAKE_GEN) -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/install-deps

# make check: install what is missing, build normally (the programs in build/bin),
# build and run every test under ASan+UBSan, then short fuzz runs.
check: deps all
	@$(CMAKE_GEN) -B $(BUILD)/asan -DDK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD)/asan -j$(JOBS)
	@cd $(BUILD)/asan && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory fuzz-check

fuzz-check:
	@CC=clang $(CMAKE_GEN) -B $(BUILD)/fuzz -DDK_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD)/fuzz -j$(JOBS)
	@cd $(BUILD)/fuzz && FUZZ_SECONDS=$${FUZZ_SECONDS_CHECK:-20} ctest --output-on-failure -j$(JOBS)

fuzz:
	@CC=clang $(CMAKE_GEN) -B $(BUILD)/fuzz -DDK_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD)/fuzz -j$(JOBS)
	@cd $(BUILD)/fuzz && FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --output-on-failure -j$(JOBS)

bench: all
	@if [ -x bench/run ]; then bench/run $(BUILD); else echo "make bench: nothing yet"; fi

demo: all
	@if [ -x scripts/demo ]; then scripts/demo; else echo "make demo: not implemented yet (issue 8)"; exit 1; fi

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
