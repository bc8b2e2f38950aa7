// A host-side check of the glue's comparison hints (glue/hints.c) inside
// libFuzzer: the input's first four bytes, little endian, are a command
// compared against one magic value, as a driver's ioctl would. Each input
// hands that comparison to the hints table, as kcov.c does with the
// module's (unless KMODVM_TEST_NOHINTS is set), and the input that holds
// the magic value aborts. libFuzzer's own comparison tracing is off
// (-fno-sanitize-coverage=trace-cmp), so the hints are all it has.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC 0x4b4d5646u

void kmodvm_hint_add(uint64_t a, uint64_t b, int size, int constant);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int hints = -1;
	uint32_t cmd;

	if (hints < 0)
		hints = getenv("KMODVM_TEST_NOHINTS") == NULL;
	if (size < 4)
		return 0;
	memcpy(&cmd, data, 4);
	if (hints)
		kmodvm_hint_add(MAGIC, cmd, 4, 1);
	if (cmd == MAGIC) {
		fprintf(stderr, "kmodvm-test: the magic command\n");
		abort();
	}
	return 0;
}
