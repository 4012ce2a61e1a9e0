# Convenience wrapper over CMake. `make setup` installs everything and runs the demo; `make check`
# installs what is missing, builds with warnings as errors and runs the whole test suite.
BUILD   ?= build
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc)
CMAKE_FLAGS ?=
export VSTAR_VENV ?= $(HOME)/.local/share/vstar/venv
# ccache hits across checkouts (CI builds a fresh clone): hash paths relative to the tree.
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

.PHONY: all build configure deps setup check check-asan asan-build test test-slurm install bench demo reproduce-mini completions clean fuzz fuzz-build

all: build

deps:
	bash tools/deps.sh

# One configuration for every target: `make setup` and `make check` compile with the same command
# lines (warnings are errors in both), so the test command right after set-up recompiles nothing and
# ccache hits across fresh clones. `make VSTAR_WERROR=OFF` for a compiler that warns where ours does not.
VSTAR_WERROR ?= ON
CONFIGURE = cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVSTAR_WERROR=$(VSTAR_WERROR) $(CMAKE_FLAGS)

$(BUILD)/build.ninja:
	$(CONFIGURE)

configure: $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# Tests that cannot run are reported as skipped, listed with their reasons at the end (and where
# ../shared and the venv are present a skip is a failure: CONTRIBUTING.md, Tests).
test: build
	bash tools/ctest-summary.sh $(BUILD) --output-on-failure -j$(JOBS)

# README command 2 (and .ci/run): what a fresh machine needs, then every test.
check: deps
	$(CONFIGURE)
	cmake --build $(BUILD) -j$(JOBS)
	bash tools/ctest-summary.sh $(BUILD) --output-on-failure -j$(JOBS)

# README command 1: install, build, and run the main job on embedded defaults.
setup: deps build demo

# The main job: the miniature Video-STAR (share/vstar/experiments/mini) end to end on the synthetic
# world, printing base / novel / HM and writing $(BUILD)/mini/summary.png; a rerun reuses finished
# stages. `make reproduce-mini` adds the ablation table and the tool-call-rate curves.
MINI = $(MAKE) --no-print-directory -C share/vstar/experiments/mini BIN=$(abspath $(BUILD))/bin OUT=$(abspath $(BUILD))/mini
demo: build
	$(MINI) demo

reproduce-mini: build
	$(MINI) reproduce-mini

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	cmake --build $(BUILD) --target bench

# The share/vstar/slurm recipes on a real one-node Slurm cluster started on loopback (installs
# slurm-wlm, munge and parallel with apt-get when absent, so it needs root): 4 shards + the dependent
# merge job == one run, a restarted shard, GNU parallel. Not part of `make check`.
test-slurm: build
	bash tools/test-slurm.sh $(BUILD)/bin

# Regenerates completions/ from the binaries' real flags (a test checks they are current).
completions: build
	bash tools/gen-completions.sh $(BUILD)/bin completions

# The ASan + UBSan pass (cmake/VstarSanitize.cmake; .ci/run runs it after `make check`): the library's
# torch-free domains, their tests, and the binaries and plugins they run, in $(ASAN_BUILD). Left out,
# because they load LibTorch, which is not instrumented and on its own takes most of the CI budget
# under ASan: lib/model, lib/policy, lib/train and their tests (tests/model, tests/policy,
# tests/train, tests/synth/teacher_test.cpp), vs-decompose, vs-grpo, vs-init, vs-policy, vs-serve,
# vs-sft, the yolo and topdown plugins, and the tests that run those binaries (ASAN_SKIP, below: so
# that the pass reports no skip, which would hide a test that stopped running). CONTRIBUTING.md,
# Sanitizers.
ASAN_BUILD ?= build-asan
ASAN_DOMAINS = video;tools;reward;eval;net;recog;synth;pipeline
ASAN_COMMANDS = vs-audit;vs-decode;vs-detect;vs-eval;vs-explain;vs-import;vs-plugins;vs-pose;vs-reward;vs-synth
ASAN_PLUGINS = example;hog;local;motion;onnx;openai;precomputed;suit
# Tests that run a left-out binary or plugin (vs-serve; vs-policy in the 4-shard pipeline; or, for the
# io shard test, count every record stage of the full configuration), and one that exceeds the
# budget under ASan at -O0 (vs-audit --render over the authors' prompt files: past a 600 s timeout).
ASAN_SKIP = ^eval:rendered prompts:|^io:every record stage takes --shard|^net:vs-serve|^pipeline:(experiment:|paper: make report on|manifest to evaluation|README:|shard: 4 shards)|^recog:class lists: each form gives the same names and descriptions in every binary|^tools:(top-down SimplePose|vs-detect \| vs-pose|yolo |missing model and wrong task)
# detect_leaks=1: a leak in our code is a finding like any other (LeakSanitizer runs at exit of
# every test and binary). The uninstrumented libraries (FFmpeg, OpenCV, libcurl, PCRE2) need no
# suppressions today: what they keep until exit is still referenced, which LeakSanitizer does not
# report. abort_on_error gives a report the exit status of a crash, which no test mistakes for a
# record error (exit 3).
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_CONFIGURE = cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVSTAR_WERROR=OFF \
	-DVSTAR_SANITIZE=address,undefined "-DVSTAR_DEV_DOMAINS=$(ASAN_DOMAINS)" \
	"-DVSTAR_DEV_COMMANDS=$(ASAN_COMMANDS)" "-DVSTAR_DEV_PLUGINS=$(ASAN_PLUGINS)"

asan-build:
	$(ASAN_CONFIGURE)
	cmake --build $(ASAN_BUILD) -j$(JOBS)

check-asan: deps asan-build
	$(ASAN_ENV) bash tools/ctest-summary.sh $(ASAN_BUILD) --output-on-failure -j$(JOBS) $(if $(ASAN_SKIP),-E '$(ASAN_SKIP)')

# Fuzzing (tests/fuzz): libFuzzer targets for the parsers of untrusted input, built with clang,
# ASan and UBSan in $(FUZZ_BUILD) from the torch-free sources they need, each then run for
# FUZZ_SECONDS on one core; prints executions, crashes, timeouts and OOMs per target and fails on
# any. `make fuzz FUZZ_SECONDS=900 FUZZ_TARGETS="jsonl reward"` for a longer run of some targets;
# FUZZ_RUNS=1000000 also stops each target after that many executions.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_TARGETS ?=
fuzz-build:
	cmake -S tests/fuzz -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

fuzz: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD)
