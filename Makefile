# kmodvm: build, load and test a kernel module on every kernel you support.
#
#   make run    the bundled module and its suite on the default kernel matrix
#   make test   vet, unit tests and the VM tests on the default matrix
#   make test-arch  the bundled suite on every architecture's kernels
#
# Both install what they need first (make deps). Run them as root on a
# Debian or Ubuntu machine with Go 1.26 or later.

GO       ?= go
BIN      := bin/kmodvm
# KERNELS, if set, replaces the default matrix (kmodvm's own:
# kmodvm kernels list shows it).
KERNELS  ?=
KERNELS_FLAG = $(if $(KERNELS),--kernels $(KERNELS))
TESTFLAGS ?= -timeout 80m
FUZZTIME ?= 60s

# Debian packages the host needs: QEMU for x86 (amd64 and i386 guests), arm (arm64, armhf),
# ppc (ppc64el) and misc (s390x, and riscv64 with opensbi, the firmware its virt machine
# boots), the module build's tools (make, gcc, pahole, libelf, perl and python3 for W=1),
# bookworm's arm64, armhf, ppc64el and s390x cross compilers (the other releases' live in their
# toolchain userlands: riscv64's, trixie's gcc-14, only there), what building a debug kernel from source adds
# (flex, bison, bc, libelf and OpenSSL headers, lz4, cpio, patch, xz),
# depmod, dpkg-deb, apt and debootstrap for kernels and toolchain
# userlands, the archive keyring apt verifies them with, clang with its
# libFuzzer runtime and the static C++ library for kmodvm fuzz's harnesses;
# for make test also
# Chromium (the HTML report is checked in a real browser), shellcheck (for
# actionlint), gdb (--gdb's test), tmux (kmodvm shell's), lcov
# (coverage.info is checked with lcov's own reader) and riscv64's binutils (its symbolizer test
# compares with riscv64-linux-gnu-addr2line).
DEB_DEPS := qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-misc opensbi gcc-12-aarch64-linux-gnu gcc-12-arm-linux-gnueabihf gcc-12-powerpc64le-linux-gnu gcc-12-s390x-linux-gnu make gcc libc6-dev libelf1 dwarves perl python3 kmod dpkg apt \
	debootstrap debian-archive-keyring util-linux ca-certificates \
	flex bison bc libelf-dev libssl-dev lz4 cpio patch xz-utils zstd \
	clang-16 libclang-rt-16-dev libstdc++-12-dev
TEST_DEPS := chromium shellcheck gdb gdb-multiarch tmux lcov binutils-riscv64-linux-gnu

# Fuzz targets: package and function. make test runs each briefly; make fuzz
# longer.
FUZZ_TARGETS := ./vmtest/debian:FuzzParsePackages ./vmtest/kernel:FuzzParseSelector \
	./vmtest/report:FuzzReadJSON ./vmtest/dmesg:FuzzScan ./guest/event:FuzzDecoder \
	./vmtest/ktap:FuzzParse ./vmtest/coverage:FuzzParseGcov ./vmtest/coverage:FuzzParseLCOV

.PHONY: all deps build run test test-arch unit vet lint fuzz bench bench-arm64 bench-arch bench-debug bench-fuzz bench-sweep test-debug soak clean

all: build

deps:
	@scripts/deps.sh $(DEB_DEPS)

build:
	$(GO) build -o $(BIN) ./cmd/kmodvm

OUT ?= kmodvm-out

run: deps build
	./$(BIN) run $(KERNELS_FLAG) --W1 --out $(OUT) \
		--junit $(OUT)/junit.xml --markdown $(OUT)/report.md --html $(OUT)/report.html

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

unit: vet
	$(GO) test -short ./...

test: deps vet
	@scripts/deps.sh $(TEST_DEPS)
	scripts/actionlint.sh
	$(GO) test $(TESTFLAGS) ./...
	$(GO) test $(TESTFLAGS) -run 'TestFault' ./vmtest -faults.cold
	$(MAKE) fuzz FUZZTIME=5s

# The architecture grid: the bundled module and suite on every architecture
# (--arch all) x every default series, plus the page-size flavours
# (6.12-64k: ppc64el's, 6.12-16k: arm64's), in one kmodvm run. A series or
# flavour an architecture lacks is a skipped cell of the report, not an error.
ARCH_KERNELS ?= 5.10,6.1,6.12,7.3,6.12-64k,6.12-16k
ARCH_OUT ?= kmodvm-out-arch
test-arch: deps build
	./$(BIN) run --arch all --kernels $(ARCH_KERNELS) --W1 --out $(ARCH_OUT) \
		--junit $(ARCH_OUT)/junit.xml --markdown $(ARCH_OUT)/report.md --html $(ARCH_OUT)/report.html

lint: vet
	scripts/actionlint.sh

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

clean:
	rm -rf bin $(OUT)


# BENCH_ARCH=amd64,arm64 measures each kernel of the matrix on both.
BENCH_ARCH ?= amd64

bench: deps
	$(GO) run ./bench -rounds 5 -arch $(BENCH_ARCH)

# The same on both architectures, side by side: bench/RESULTS-arm64.md.
bench-arm64: deps
	$(GO) run ./bench -rounds 3 -arch amd64,arm64 -out bench/RESULTS-arm64.md

# The bundled suite per architecture beside amd64, all in one run:
# start to hello, module build and suite time, and each suite's ratio to
# amd64's: bench/RESULTS-arch.md. BENCH_ARCH_KERNELS gives every
# architecture a kernel (riscv64 has no 6.1, i386 no 6.12).
BENCH_ARCH_KERNELS ?= 6.1,6.12
BENCH_ARCH_ROUNDS ?= 3
bench-arch: deps
	$(GO) run ./bench -grid -rounds $(BENCH_ARCH_ROUNDS) -arch all -kernels $(BENCH_ARCH_KERNELS)

# The debug kernel's section of bench/RESULTS.md: a cold build into an
# empty cache (about half an hour on two cores), warm fetch, entry size,
# boot and the bundled suite next to the stock kernel.
DEBUG_KERNEL ?= 6.1-debug
bench-debug: deps
	$(GO) run ./bench/debugkernel -kernel $(DEBUG_KERNEL)

# The fuzzing section of bench/RESULTS.md: execs/s of the bundled driver's
# harness on a debug kernel, and the magic-compare power test, FUZZ_SEEDS
# seeds each way with FUZZ_BUDGET a try (5 x 5 min: about an hour).
FUZZ_SEEDS ?= 5
FUZZ_BUDGET ?= 5m
bench-fuzz: deps
	$(GO) run ./bench/fuzzbench -kernel $(DEBUG_KERNEL) -seeds $(FUZZ_SEEDS) -budget $(FUZZ_BUDGET)
# The fault-injection sweep's section of bench/RESULTS.md: the bundled
# driver's sweep on the debug kernel, in one VM and in two.
bench-sweep: deps
	$(GO) run ./bench -sweep -sweep-kernel $(DEBUG_KERNEL) -rounds 1

# The debug-kernel VM tests on more kernels than make test's one (each is
# built from source once, cached): KMODVM_TEST_DEBUG_KERNELS.
DEBUG_KERNELS ?= 6.1-debug,7.3-debug,6.1-kcsan
test-debug: deps
	KMODVM_TEST_DEBUG_KERNELS=$(DEBUG_KERNELS) $(GO) test $(TESTFLAGS) -run 'TestDebugKernel|TestSanitizers|TestInjectFaults|TestFailEach|TestScopedFaults' -v ./vmtest

# Soak: the bundled suite on the kernel matrix, SOAK_ROUNDS times (13 x 4
# kernels = 52 boots, about 6 minutes here), bounded by SOAK_DURATION;
# writes bench/SOAK.md and fails if any run had an infrastructure error, a
# retried boot, a failure or a flaky test.
SOAK_ROUNDS   ?= 13
SOAK_DURATION ?= 20m

soak: deps
	$(GO) run ./bench/soak -rounds $(SOAK_ROUNDS) -duration $(SOAK_DURATION) $(if $(KERNELS),-kernels $(KERNELS))
