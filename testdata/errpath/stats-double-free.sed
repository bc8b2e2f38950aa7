# The seeded error-path bug: mmapdrv_get_stats stages the counters in two
# allocations, and when the second fails it frees the first twice.
/^#include <linux\/rwsem.h>$/a\
#include <linux/slab.h>
/^static long mmapdrv_get_stats(/,/^}$/c\
static long mmapdrv_get_stats(struct mmapdrv *drv, void __user *argp)\
{\
\	struct mmapdrv_stats *st, *snap;\
\	long ret;\
\
\	st = kzalloc(sizeof(*st), GFP_KERNEL);\
\	if (!st)\
\		return -ENOMEM;\
\	st->reads = atomic64_read(&drv->reads);\
\	st->writes = atomic64_read(&drv->writes);\
\	st->mmaps = atomic64_read(&drv->mmaps);\
\	st->faults = atomic64_read(&drv->faults);\
\	st->clears = atomic64_read(&drv->clears);\
\
\	snap = kmemdup(st, sizeof(*st), GFP_KERNEL);\
\	if (!snap) {\
\		kfree(st);\
\		ret = -ENOMEM;\
\		goto out_free;\
\	}\
\	ret = copy_to_user(argp, snap, sizeof(*snap)) ? -EFAULT : 0;\
\	kfree(snap);\
out_free:\
\	kfree(st);\
\	return ret;\
}
