# The seeded portability bug: mmapdrv_mmap counts the mapping's pages by
# hand, as 4 KiB ones, where vma_pages() counts the kernel's PAGE_SIZE.
s|unsigned long pages = vma_pages(vma);|unsigned long pages = (vma->vm_end - vma->vm_start) >> 12;|
