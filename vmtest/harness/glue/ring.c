// kmodvm's ring of the last inputs, for findings that end the kernel.
//
// kmsg.c names the input of a kernel report the kernel survives. A panic
// (an Oops with panic_on_oops, a fault in an interrupt, a BUG where the
// machine cannot go on) or a hang ends the guest before the glue reads
// the log, and the input with it. So each input goes, before it runs,
// into a ring in the memory the host shares with the guest (the
// ivshmem-plain device that carries a restored VM's files, BAR 2): no
// later kernel code path can take a store back. A restored VM maps that
// memory privately, so the stores stay in QEMU's pages: the glue makes a
// panic stop the guest instead of resetting it, and the host reads the
// ring through QEMU before it ends a VM that panicked or hung
// (qemu.Config.ShareTail; vmtest/harness/ring.go parses it), then
// replays its inputs.
//
// A memory copy per input costs nothing a syscall would: a write to a
// serial port or to the agent's stream is a trap to the VMM and a copy
// in the kernel. The ring is the shared memory's last RING_BYTES, which
// the host's files never reach once the run started. Layout (little
// endian): a 64-byte header, "KMVRING1", the slots (u32), a slot's size
// (u32), the inputs written (u64); then the slots, each: the input's
// sequence number plus one (u64, 0 while it is being written), its
// length (u32), the bytes kept (u32, less when it did not fit), the
// bytes.
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RING_BYTES (1 << 20)
#define RING_SLOTS 32
#define RING_HEADER 64
#define SLOT_BYTES ((RING_BYTES - RING_HEADER) / RING_SLOTS & ~7)
#define SLOT_HEADER 16

static uint8_t *ring;

static int read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

// map_share maps the tail of the ivshmem device's BAR 2, or returns NULL
// when the VM has none (a booted VM, not restored from a snapshot).
static uint8_t *map_share(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	uint8_t *mem = NULL;
	if (!d)
		return NULL;
	while (!mem && (e = readdir(d)) != NULL) {
		char path[512], v[32], dev[32];
		snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (read_line(path, v, sizeof v) || strcmp(v, "0x1af4"))
			continue;
		snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/device", e->d_name);
		if (read_line(path, dev, sizeof dev) || strcmp(dev, "0x1110"))
			continue;
		snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/resource2", e->d_name);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct stat st;
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && st.st_size >= RING_BYTES) {
			void *p = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, st.st_size - RING_BYTES);
			if (p != MAP_FAILED)
				mem = p;
		}
		close(fd);
	}
	closedir(d);
	return mem;
}

// kmodvm_ring_open maps the ring and starts it empty; without shared
// memory the ring is off, and the glue says so.
void kmodvm_ring_open(void)
{
	ring = map_share();
	if (!ring) {
		fprintf(stderr, "kmodvm-fuzz: no shared memory: an input that panics or hangs the kernel will not be known\n");
		return;
	}
	memset(ring, 0, RING_HEADER);
	uint32_t slots = RING_SLOTS, slot = SLOT_BYTES;
	memcpy(ring + 8, &slots, 4);
	memcpy(ring + 12, &slot, 4);
	memcpy(ring, "KMVRING1", 8);
	// A restored VM keeps the guest's writes to the memory in QEMU's own
	// pages, which go with QEMU: a panic must not reset the guest (the
	// command line's panic=-1) but leave it stopped, so that the host
	// reads the ring before it ends the VM, after its grace.
	int fd = open("/proc/sys/kernel/panic", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0\n", 2) != 2)
		fprintf(stderr, "kmodvm-fuzz: /proc/sys/kernel/panic: a panic will reset the guest before the host reads the last inputs\n");
	if (fd >= 0)
		close(fd);
}

// kmodvm_ring_put writes the input about to run into the ring's next
// slot, then counts it: the host reads a slot whose sequence number is
// set as whole.
void kmodvm_ring_put(const uint8_t *data, size_t size)
{
	if (!ring)
		return;
	uint64_t *count = (uint64_t *)(ring + 16);
	uint64_t seq = __atomic_load_n(count, __ATOMIC_RELAXED);
	uint8_t *s = ring + RING_HEADER + (size_t)(seq % RING_SLOTS) * SLOT_BYTES;
	uint32_t len = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
	uint32_t kept = size > SLOT_BYTES - SLOT_HEADER ? SLOT_BYTES - SLOT_HEADER : (uint32_t)size;
	__atomic_store_n((uint64_t *)s, 0, __ATOMIC_RELEASE);
	memcpy(s + 8, &len, 4);
	memcpy(s + 12, &kept, 4);
	memcpy(s + SLOT_HEADER, data, kept);
	__atomic_store_n((uint64_t *)s, seq + 1, __ATOMIC_RELEASE);
	__atomic_store_n(count, seq + 1, __ATOMIC_RELEASE);
}
