# The two commands of the README. Both install missing Debian packages first, then build.
BUILD ?= build
JOBS ?= $(shell nproc)
WORK ?= work/mimic-iv-demo

.PHONY: deps configure build demo test bench clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release > /dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The demo needs only the rawmed binary (not the tests and benchmarks).
demo: configure
	@cmake --build $(BUILD) -j $(JOBS) --target rawmed
	$(BUILD)/rawmed run --config configs/mimic-iv-demo.toml --work $(WORK) --preset demo --codec-minutes 4 --temporal-minutes 8 --n 40

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bash bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
