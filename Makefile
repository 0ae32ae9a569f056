# The two commands of the README. Both install missing Debian packages first, then build.
BUILD ?= build
JOBS ?= $(shell nproc)
WORK ?= work/mimic-iv-demo

.PHONY: deps configure build demo test bench clean fuzz fuzz-smoke asan

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release > /dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The demo needs only the rawmed binary (not the tests and benchmarks). Its output goes through the
# release gate like any other (docs/formats/release.md); a rejected database is kept under
# WORK/synthetic.rejected/ with the reasons, and the command fails.
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target rawmed
	$(BUILD)/rawmed run --config configs/mimic-iv-demo.toml --work $(WORK) --preset demo --codec-minutes 4 --temporal-minutes 8 --n 40

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Parser fuzzing (fuzz/README.md): libFuzzer targets built with clang in build-fuzz.
# `make fuzz` runs each target for FUZZ_SECONDS (default 600) from the seed corpus, one at a time.
FUZZ_SECONDS ?= 600
fuzz: deps
	@cmake -S . -B build-fuzz -DRAWMED_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@for t in csv config codes dataset; do mkdir -p build-fuzz/corpus/$$t build-fuzz/artifacts build-fuzz/tmp; \
	  TMPDIR=build-fuzz/tmp build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/artifacts/ build-fuzz/corpus/$$t fuzz/corpus/$$t || exit 1; done

fuzz-smoke: deps
	bash fuzz/smoke.sh build-fuzz

# The Torch-free parser tests (CSV reader on every bundled table, hardening, prepare, dataset and
# codes.bin readers) under AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan.
asan: deps
	@cmake -S . -B build-asan -DRAWMED_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

bench: build
	bash bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
