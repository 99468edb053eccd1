# The two commands: `make demo` and `make test`. Both install what is missing first.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= ON
JOBS ?= $(shell nproc)

FUZZ_BUILD ?= build-fuzz
# Executions per fuzz target in `make test` (a bounded run: a count, not a time).
FUZZ_RUNS ?= 30000
# Seconds per target for `make fuzz`.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS = json_bodies csv time
SANITIZE_BUILD ?= build-asan

.PHONY: all setup build build-server demo test bench format tidy clean fuzz fuzz-build fuzz-smoke sanitize

all: build

setup:
	./scripts/setup

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DFLEXMARKET_WERROR=$(WERROR)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The demo needs the flexmarket binary only; tests and benchmarks build with their targets.
build-server: setup $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target flexmarket

# Creates var/flexmarket.db, applies migrations, seeds demo accounts and an admin
# (its generated password is printed once) and serves http://127.0.0.1:8080.
demo: build-server
	./$(BUILD)/flexmarket demo

# Two at a time: the system test shards, the examples and the browser tests mostly wait.
test: build fuzz-smoke
	ctest --test-dir $(BUILD) --output-on-failure -j 2

$(FUZZ_BUILD)/build.ninja:
	CXX=clang++ cmake -S fuzz -B $(FUZZ_BUILD) -G Ninja

fuzz-build: setup $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# Each fuzz target over a copy of its committed seed corpus, FUZZ_RUNS executions.
fuzz-smoke: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf $(FUZZ_BUILD)/smoke-$$t && cp -r fuzz/corpus/$$t $(FUZZ_BUILD)/smoke-$$t && \
	  ./$(FUZZ_BUILD)/$${t}_fuzz -runs=$(FUZZ_RUNS) -max_len=4096 -seed=1 $(FUZZ_BUILD)/smoke-$$t 2>$(FUZZ_BUILD)/smoke-$$t.log \
	    || { tail -40 $(FUZZ_BUILD)/smoke-$$t.log; exit 1; }; \
	  echo "fuzz $$t: $$(grep -o 'Done [0-9]* runs' $(FUZZ_BUILD)/smoke-$$t.log), 0 crashes"; \
	done

# Long runs (FUZZ_SECONDS per target); the corpus grows under $(FUZZ_BUILD)/corpus.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t && \
	  ./$(FUZZ_BUILD)/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	    $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

# The unit tests and the hostile-input and access system tests under AddressSanitizer and
# UndefinedBehaviorSanitizer (a CI-sized run: the full system suite takes too long there).
# Warnings stay warnings: GCC 12 reports false maybe-uninitialized ones in libstdc++ here.
sanitize: setup
	cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFLEXMARKET_WERROR=OFF \
	  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1"
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) --target unit_tests system_tests flexmarket
	ASAN_OPTIONS=detect_leaks=0 ./$(SANITIZE_BUILD)/unit_tests
	ASAN_OPTIONS=detect_leaks=0 ./$(SANITIZE_BUILD)/system_tests --gtest_filter='*Hostile*:*AccessMatrix*:*Http*'

bench: build
	./bench/run_all.sh $(BUILD)

format:
	find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

tidy: $(BUILD)/build.ninja
	find src -name '*.cpp' ! -name '*_test.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(SANITIZE_BUILD)
