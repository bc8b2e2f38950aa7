// A harness that forgot its entry point.
#include <stddef.h>
#include <stdint.h>

int fuzz_one(const uint8_t *data, size_t size)
{
	return data[0] + (int)size;
}
