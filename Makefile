# kmodvm: build, load and test a kernel module on every kernel you support.
#
#   make run    the bundled module and its suite on the default kernel matrix
#   make test   vet, unit tests and the VM tests on the default matrix
#
# Both install what they need first (make deps). Run them as root on a
# Debian or Ubuntu machine with Go 1.26 or later.

GO       ?= go
BIN      := bin/kmodvm
KERNELS  ?= 5.10,6.1,6.12,7.3
TESTFLAGS ?= -timeout 80m
FUZZTIME ?= 60s

# Debian packages the host needs: QEMU, the kernel build's tools (make, gcc,
# pahole, libelf), depmod, dpkg-deb, apt and debootstrap for kernels and
# toolchain userlands, and the archive keyring apt verifies them with.
DEB_DEPS := qemu-system-x86 make gcc libc6-dev libelf1 dwarves perl python3 kmod dpkg apt \
	debootstrap debian-archive-keyring util-linux ca-certificates

.PHONY: all deps build run test unit vet lint fuzz bench clean

all: build

deps:
	@scripts/deps.sh $(DEB_DEPS)

build:
	$(GO) build -o $(BIN) ./cmd/kmodvm

OUT ?= kmodvm-out

run: deps build
	./$(BIN) run --kernels $(KERNELS) --W1 --out $(OUT) \
		--junit $(OUT)/junit.xml --markdown $(OUT)/report.md

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

unit: vet
	$(GO) test -short ./...

test: deps vet
	$(GO) test $(TESTFLAGS) ./...

lint: vet

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParsePackages -fuzztime $(FUZZTIME) ./vmtest/debian

clean:
	rm -rf bin $(OUT)


bench: deps
	$(GO) run ./bench -rounds 3
