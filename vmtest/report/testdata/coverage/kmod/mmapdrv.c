// SPDX-License-Identifier: GPL-2.0
/*
 * mmapdrv: a fixed-size kernel buffer that user space reaches through
 * read()/write()/lseek() and through mmap() on /dev/mmapdrv.
 *
 * Memory: the buffer is vmalloc_user() memory of bufsize bytes rounded up to
 * whole pages, allocated once at load and freed at unload. Every open file,
 * and every mapping (through vma->vm_file), holds a reference on the module
 * via fops.owner, so the buffer outlives all of its users.
 *
 * Mapping: pages are handed out one at a time by a .fault handler
 * (vmalloc_to_page()) instead of being inserted up front by
 * remap_vmalloc_range(). Both give the same shared view, but
 * remap_vmalloc_range() leaves a VMA without a .fault handler: after
 * MADV_DONTNEED zaps its PTEs the next access gets SIGBUS. With a .fault
 * handler the page simply faults back in, so the mapping behaves like any
 * shared file mapping: MADV_DONTNEED on MAP_SHARED keeps the data, and on
 * MAP_PRIVATE drops the private copies so the buffer's current contents show
 * through again. MAP_PRIVATE is copy-on-write: writes stay in the process.
 *
 * Locking: drv->lock orders read(), write() and MMAPDRV_IOC_CLEAR against
 * each other, so a read() never sees half of a concurrent write() or clear.
 * Stores through a mapping cannot be ordered by a lock; they race with
 * read() and write() exactly as stores to a shared file mapping do. mmap()
 * and the fault handler run under mmap_lock and take no driver lock: the
 * buffer, its size and its pages never change while the module is loaded,
 * and read()/write() may fault on a mapping of this very device while
 * holding drv->lock, so taking it there would invert the lock order.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/ratelimit.h>
#include <linux/rwsem.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "include/uapi/linux/mmapdrv.h"
#include "mmapdrv_checks.h"

static unsigned int bufsize = 40960;
module_param(bufsize, uint, 0444);
MODULE_PARM_DESC(bufsize, "buffer size in bytes, 1 to 64 MiB (default 40960)");

struct mmapdrv {
	struct miscdevice misc;
	void *buf;
	size_t size;		/* bytes that read()/write()/lseek() see */
	unsigned long npages;	/* pages behind buf: what mmap() may cover */
	struct rw_semaphore lock;
	atomic64_t reads;
	atomic64_t writes;
	atomic64_t mmaps;
	atomic64_t faults;
	atomic64_t clears;
};

static struct mmapdrv mmapdrv_dev;

/*
 * One line per read() is what the lecture shows, but a reader in a loop
 * would flood the log, so lines are rate limited. RATELIMIT_MSG_ON_RELEASE
 * keeps the "callbacks suppressed" notice, printed at KERN_WARNING, out of
 * the log: dropped info lines are not worth a warning.
 */
static DEFINE_RATELIMIT_STATE(mmapdrv_read_rs, DEFAULT_RATELIMIT_INTERVAL,
			      DEFAULT_RATELIMIT_BURST);

static struct mmapdrv *file_to_mmapdrv(struct file *file)
{
	/* misc_open() points private_data at our miscdevice. */
	return container_of(file->private_data, struct mmapdrv, misc);
}

static ssize_t mmapdrv_read(struct file *file, char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct mmapdrv *drv = file_to_mmapdrv(file);
	ssize_t ret;

	down_read(&drv->lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, drv->buf, drv->size);
	up_read(&drv->lock);
	if (ret > 0)
		atomic64_inc(&drv->reads);
	if (ret >= 0 && __ratelimit(&mmapdrv_read_rs))
		pr_info("drv_read: read nbytes=%zu done at pos=%lld\n",
			(size_t)ret, *ppos);
	return ret;
}

/*
 * Not simple_write_to_buffer(): that returns 0 at the end of the buffer,
 * and a writer looping until done would spin forever (mmapdrv_write_len()).
 */
static ssize_t mmapdrv_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct mmapdrv *drv = file_to_mmapdrv(file);
	loff_t pos = *ppos;
	unsigned long left;
	ssize_t len;
	size_t n;

	len = mmapdrv_write_len(pos, count, drv->size);
	if (len <= 0)
		return len;

	n = len;
	down_write(&drv->lock);
	left = copy_from_user(drv->buf + pos, ubuf, n);
	up_write(&drv->lock);
	if (left == n)
		return -EFAULT;

	n -= left;
	*ppos = pos + n;
	atomic64_inc(&drv->writes);
	return n;
}

static loff_t mmapdrv_llseek(struct file *file, loff_t offset, int whence)
{
	return fixed_size_llseek(file, offset, whence,
				 file_to_mmapdrv(file)->size);
}

static long mmapdrv_get_stats(struct mmapdrv *drv, void __user *argp)
{
	struct mmapdrv_stats st = {
		.reads = atomic64_read(&drv->reads),
		.writes = atomic64_read(&drv->writes),
		.mmaps = atomic64_read(&drv->mmaps),
		.faults = atomic64_read(&drv->faults),
		.clears = atomic64_read(&drv->clears),
	};

	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

static long mmapdrv_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct mmapdrv *drv = file_to_mmapdrv(file);
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case MMAPDRV_IOC_GET_SIZE:
		return put_user((__u64)drv->size, (__u64 __user *)argp);
	case MMAPDRV_IOC_CLEAR:
		/* Clearing is a write: refuse it on a read-only descriptor. */
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		down_write(&drv->lock);
		memset(drv->buf, 0, drv->npages << PAGE_SHIFT);
		up_write(&drv->lock);
		atomic64_inc(&drv->clears);
		return 0;
	case MMAPDRV_IOC_GET_STATS:
		return mmapdrv_get_stats(drv, argp);
	default:
		return -ENOTTY;
	}
}

static vm_fault_t mmapdrv_fault(struct vm_fault *vmf)
{
	struct mmapdrv *drv = vmf->vma->vm_private_data;
	struct page *page;

	/* mmap() and VM_DONTEXPAND keep pgoff in range; never trust it. */
	if (vmf->pgoff >= drv->npages)
		return VM_FAULT_SIGBUS;

	page = vmalloc_to_page(drv->buf + (vmf->pgoff << PAGE_SHIFT));
	get_page(page);
	vmf->page = page;
	atomic64_inc(&drv->faults);
	return 0;
}

static const struct vm_operations_struct mmapdrv_vm_ops = {
	.fault = mmapdrv_fault,
};

static int mmapdrv_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mmapdrv *drv = file_to_mmapdrv(file);
	unsigned long pages = vma_pages(vma);

	/* vm_pgoff is the page offset into the buffer. */
	if (!mmapdrv_mmap_fits(vma->vm_pgoff, pages, drv->npages))
		return -EINVAL;

	/*
	 * DONTEXPAND: mremap() must not grow the mapping past what was
	 * validated here. DONTDUMP: a core dump of the process should not
	 * carry a copy of the device's buffer.
	 */
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &mmapdrv_vm_ops;
	vma->vm_private_data = drv;
	atomic64_inc(&drv->mmaps);
	return 0;
}

static const struct file_operations mmapdrv_fops = {
	.owner = THIS_MODULE,	/* pins the module while a file or mapping lives */
	.read = mmapdrv_read,
	.write = mmapdrv_write,
	.llseek = mmapdrv_llseek,
	.unlocked_ioctl = mmapdrv_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = mmapdrv_mmap,
};

static int __init mmapdrv_init(void)
{
	struct mmapdrv *drv = &mmapdrv_dev;
	int ret;

	if (!mmapdrv_bufsize_ok(bufsize)) {
		pr_err("bufsize=%u is out of range: it must be 1..%u bytes\n",
		       bufsize, MMAPDRV_MAX_BUFSIZE);
		return -EINVAL;
	}

	drv->size = bufsize;
	drv->npages = PAGE_ALIGN(drv->size) >> PAGE_SHIFT;
	drv->buf = vmalloc_user(drv->npages << PAGE_SHIFT);
	if (!drv->buf)
		return -ENOMEM;

	init_rwsem(&drv->lock);
	ratelimit_set_flags(&mmapdrv_read_rs, RATELIMIT_MSG_ON_RELEASE);

	drv->misc.minor = MISC_DYNAMIC_MINOR;
	drv->misc.name = KBUILD_MODNAME;
	drv->misc.fops = &mmapdrv_fops;
	drv->misc.mode = 0666;
	ret = misc_register(&drv->misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", drv->misc.name, ret);
		goto err_free;
	}

	pr_info("/dev/%s ready, bufsize=%zu\n", drv->misc.name, drv->size);
	return 0;

err_free:
	vfree(drv->buf);
	return ret;
}

static void __exit mmapdrv_exit(void)
{
	struct mmapdrv *drv = &mmapdrv_dev;

	misc_deregister(&drv->misc);
	vfree(drv->buf);
}

module_init(mmapdrv_init);
module_exit(mmapdrv_exit);

MODULE_DESCRIPTION("A kernel buffer shared with user space through read/write and mmap");
MODULE_AUTHOR("The kmodvm authors");
MODULE_LICENSE("GPL");
