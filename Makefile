# The two commands: `make demo` and `make test`. Both install what is missing first.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= ON
JOBS ?= $(shell nproc)

.PHONY: all setup build demo test bench format tidy clean

all: build

setup:
	./scripts/setup

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DFLEXMARKET_WERROR=$(WERROR)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Creates var/flexmarket.db, applies migrations, seeds demo accounts and an admin
# (its generated password is printed once) and serves http://127.0.0.1:8080.
demo: build
	./$(BUILD)/flexmarket demo

test: build
	ctest --test-dir $(BUILD) --output-on-failure

bench: build
	./bench/http_bench.sh $(BUILD)/flexmarket
	./$(BUILD)/timeseries_bench
	./$(BUILD)/timeseries_bench --postgres
	./$(BUILD)/clearing_bench
	./$(BUILD)/planning_bench
	./$(BUILD)/market_bench
	./$(BUILD)/market_bench --postgres
	./bench/bid_bench.sh $(BUILD)/flexmarket

format:
	find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

tidy: $(BUILD)/build.ninja
	find src -name '*.cpp' ! -name '*_test.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD)
