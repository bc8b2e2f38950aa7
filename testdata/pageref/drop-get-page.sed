# The seeded page-reference bug: mmapdrv_fault hands out its page without
# taking a reference, so every unmap frees a page the driver still owns.
/^	get_page(page);$/d
