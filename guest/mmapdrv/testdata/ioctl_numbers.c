/* Prints what the uapi header yields, for TestIoctlNumbersMatchCHeader. */
#include <stddef.h>
#include <stdio.h>
#include <linux/mmapdrv.h>

int main(void)
{
	printf("magic %u\n", (unsigned int)MMAPDRV_IOC_MAGIC);
	printf("get_size %u\n", (unsigned int)MMAPDRV_IOC_GET_SIZE);
	printf("clear %u\n", (unsigned int)MMAPDRV_IOC_CLEAR);
	printf("get_stats %u\n", (unsigned int)MMAPDRV_IOC_GET_STATS);
	printf("max_bufsize %u\n", (unsigned int)MMAPDRV_MAX_BUFSIZE);
	printf("sizeof_stats %zu\n", sizeof(struct mmapdrv_stats));
	printf("off_reads %zu\n", offsetof(struct mmapdrv_stats, reads));
	printf("off_writes %zu\n", offsetof(struct mmapdrv_stats, writes));
	printf("off_mmaps %zu\n", offsetof(struct mmapdrv_stats, mmaps));
	printf("off_faults %zu\n", offsetof(struct mmapdrv_stats, faults));
	printf("off_clears %zu\n", offsetof(struct mmapdrv_stats, clears));
	return 0;
}
