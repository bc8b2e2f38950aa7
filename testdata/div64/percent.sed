# The seeded portability bug: mmapdrv_read's debug line says how far
# through the buffer a read ended, dividing the 64-bit file position by
# the buffer's size.
s|done at pos=%lld\\n",$|done at pos=%lld, %lld%% through\\n",|
s|(size_t)ret, \*ppos);$|(size_t)ret, *ppos, (long long)(*ppos * 100 / drv->size));|
