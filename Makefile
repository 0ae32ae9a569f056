# The two commands of the README. Both install missing Debian packages first, then build.
BUILD ?= build
JOBS ?= $(shell nproc)
WORK ?= work/mimic-iv-demo

.PHONY: deps build demo test bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release > /dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/rawmed run --config configs/mimic-iv-demo.toml --work $(WORK) --preset demo --max-train-minutes 4 --n 40

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bash bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD)
