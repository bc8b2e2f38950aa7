// SPDX-License-Identifier: GPL-2.0
/*
 * faultmod - make the kernel fail on demand, for testing kmodvm.
 *
 * Each ioctl of /dev/faultmod triggers one kind of kernel failure so that
 * tests can check how kmodvm reports it. The module is test-only: it is not
 * an example of how to write a driver.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "faultmod.h"

#define FAULTMOD_SPIN_DEFAULT_SECS	30
#define FAULTMOD_SPIN_MAX_SECS		600
#define FAULTMOD_COPY_OBJ_SIZE		16

static bool fail_init;
module_param(fail_init, bool, 0444);
MODULE_PARM_DESC(fail_init, "Fail module init with -ENOMEM");

struct faultmod_obj {
	int value;
};

/* Read through READ_ONCE so the compiler cannot fold the NULL away. */
static struct faultmod_obj *faultmod_null;

static DECLARE_COMPLETION(faultmod_unhang);
static DEFINE_SPINLOCK(faultmod_lock);

static int faultmod_oops(void)
{
	struct faultmod_obj *obj = READ_ONCE(faultmod_null);

	return obj->value;
}

static int faultmod_gpf(void)
{
	/* LIST_POISON1 is non-canonical: the access raises #GP, not #PF. */
	struct faultmod_obj *obj = READ_ONCE(faultmod_null);

	obj = (struct faultmod_obj *)((unsigned long)obj + (unsigned long)LIST_POISON1);
	return READ_ONCE(obj->value);
}

static void faultmod_softlockup(unsigned long secs)
{
	unsigned long end;

	if (secs == 0)
		secs = FAULTMOD_SPIN_DEFAULT_SECS;
	secs = min_t(unsigned long, secs, FAULTMOD_SPIN_MAX_SECS);
	end = jiffies + secs * HZ;

	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
}

static void faultmod_rcu_cb(struct rcu_head *head)
{
}

static struct rcu_head faultmod_rcu;

/*
 * Queue an RCU callback, then spin with preemption off: another CPU's grace
 * period kthread starts a grace period that this CPU blocks, so the RCU
 * stall detector fires (after CONFIG_RCU_CPU_STALL_TIMEOUT, 21 s on Debian).
 * Needs two CPUs: on one, the grace period never starts.
 */
static void faultmod_rcu_stall(unsigned long secs)
{
	call_rcu(&faultmod_rcu, faultmod_rcu_cb);
	faultmod_softlockup(secs);
}

static void faultmod_atomic_sleep(void)
{
	spin_lock(&faultmod_lock);
	msleep(20);
	spin_unlock(&faultmod_lock);
}

/*
 * Not const, and read with READ_ONCE: if the compiler knew the object's size,
 * FORTIFY's check_copy_size() would refuse the copy (copy_overflow) before
 * HARDENED_USERCOPY saw it. faultmod_copy_overflow shows that path.
 */
static size_t faultmod_copy_obj_size = FAULTMOD_COPY_OBJ_SIZE;

static long faultmod_usercopy(unsigned long arg)
{
	struct faultmod_copy req;
	void *obj;
	long ret = 0;

	if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
		return -EFAULT;
	obj = kzalloc(READ_ONCE(faultmod_copy_obj_size), GFP_KERNEL);
	if (!obj)
		return -ENOMEM;
	/* req.len past the object is the bug HARDENED_USERCOPY must catch. */
	if (copy_to_user(u64_to_user_ptr(req.addr), obj, req.len))
		ret = -EFAULT;
	kfree(obj);
	return ret;
}

static long faultmod_copy_overflow(unsigned long arg)
{
	struct faultmod_copy req;
	void *obj;
	long ret = 0;

	if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
		return -EFAULT;
	obj = kzalloc(FAULTMOD_COPY_OBJ_SIZE, GFP_KERNEL);
	if (!obj)
		return -ENOMEM;
	/* The compiler knows obj's size: check_copy_size() refuses the copy. */
	if (copy_to_user(u64_to_user_ptr(req.addr), obj, req.len))
		ret = -EFAULT;
	kfree(obj);
	return ret;
}

static void faultmod_list_corrupt(void)
{
	LIST_HEAD(head);
	struct list_head a, b;

	list_add(&a, &head);
	/* Break head.next->prev so that the next list_add fails its check. */
	WRITE_ONCE(a.prev, &b);
	list_add(&b, &head);
}

static void faultmod_refcount(void)
{
	refcount_t ref = REFCOUNT_INIT(1);

	refcount_dec(&ref);
	refcount_dec(&ref);
}

static long faultmod_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	switch (cmd) {
	case FAULTMOD_WARN:
		WARN(1, "faultmod: warning requested\n");
		return 0;
	case FAULTMOD_OOPS:
		return faultmod_oops();
	case FAULTMOD_BUG:
		BUG();
	case FAULTMOD_PANIC:
		panic("faultmod: panic requested\n");
	case FAULTMOD_HANG_READ:
		/* The next read() on this file sleeps until FAULTMOD_RELEASE. */
		file->private_data = &faultmod_unhang;
		return 0;
	case FAULTMOD_RELEASE:
		complete_all(&faultmod_unhang);
		return 0;
	case FAULTMOD_SOFTLOCKUP:
		faultmod_softlockup(arg);
		return 0;
	case FAULTMOD_RCU_STALL:
		faultmod_rcu_stall(arg);
		return 0;
	case FAULTMOD_ATOMIC_SLEEP:
		faultmod_atomic_sleep();
		return 0;
	case FAULTMOD_LEAK:
		if (!try_module_get(THIS_MODULE))
			return -ENODEV;
		return 0;
	case FAULTMOD_USERCOPY:
		return faultmod_usercopy(arg);
	case FAULTMOD_COPY_OVERFLOW:
		return faultmod_copy_overflow(arg);
	case FAULTMOD_GPF:
		return faultmod_gpf();
	case FAULTMOD_LIST_CORRUPT:
		faultmod_list_corrupt();
		return 0;
	case FAULTMOD_REFCOUNT:
		faultmod_refcount();
		return 0;
	}
	return -ENOTTY;
}

static ssize_t faultmod_read(struct file *file, char __user *buf,
			     size_t count, loff_t *ppos)
{
	struct completion *unhang = file->private_data;

	if (unhang) {
		/* Deliberately uninterruptible: the hung-task detector must see it. */
		wait_for_completion(unhang);
		file->private_data = NULL;
	}
	return 0;
}

static int faultmod_open(struct inode *inode, struct file *file)
{
	/* misc_open set private_data to the miscdevice; start clean. */
	file->private_data = NULL;
	return 0;
}

static const struct file_operations faultmod_fops = {
	.owner		= THIS_MODULE,
	.open		= faultmod_open,
	.read		= faultmod_read,
	.unlocked_ioctl	= faultmod_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice faultmod_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "faultmod",
	.fops	= &faultmod_fops,
	.mode	= 0600,
};

/* Declared here, not with fail_init: the tests pin the lines above. */
static bool oops_in_exit;
module_param(oops_in_exit, bool, 0444);
MODULE_PARM_DESC(oops_in_exit, "Dereference NULL while unloading");

static int __init faultmod_init(void)
{
	if (fail_init) {
		pr_err("init failure requested\n");
		return -ENOMEM;
	}
	return misc_register(&faultmod_dev);
}

static void __exit faultmod_exit(void)
{
	complete_all(&faultmod_unhang);
	misc_deregister(&faultmod_dev);
	rcu_barrier();
	if (oops_in_exit)
		pr_info("unreachable: %d\n", faultmod_oops());
}

module_init(faultmod_init);
module_exit(faultmod_exit);

MODULE_DESCRIPTION("Test-only module that makes the kernel fail on demand");
MODULE_AUTHOR("kmodvm authors");
MODULE_LICENSE("GPL");

/*
 * wedge_init: writing 1 to /sys/module/faultmod/parameters/wedge_init stops
 * PID 1 (the guest's agent) for good, as a fault that hits the agent itself
 * does. Here, after everything else, so that the lines the tests pin stay.
 */
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/task_work.h>

struct faultmod_wedge {
	struct callback_head work;
};

/* Runs in a thread of PID 1 on its way back to user space: never returns. */
static void faultmod_wedge_fn(struct callback_head *head)
{
	kfree(container_of(head, struct faultmod_wedge, work));
	for (;;) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		schedule();
	}
}

/*
 * SIGSTOP cannot do it: the kernel ignores SIGKILL and SIGSTOP sent to the
 * global init, from the kernel too (sig_task_ignored). A task work queued on
 * each of its threads runs as the thread leaves the kernel (TWA_SIGNAL wakes
 * a sleeping one) and sleeps there uninterruptibly. Each work holds a
 * reference to the module, which is never unloaded after.
 */
static int faultmod_wedge_set(const char *val, const struct kernel_param *kp)
{
	struct task_struct *init, *t;
	struct faultmod_wedge *w;
	bool on;
	int n = 0;

	if (kstrtobool(val, &on) || !on)
		return -EINVAL;
	rcu_read_lock();
	init = pid_task(find_vpid(1), PIDTYPE_PID);
	if (init) {
		for_each_thread(init, t) {
			w = kzalloc(sizeof(*w), GFP_ATOMIC);
			if (!w)
				break;
			init_task_work(&w->work, faultmod_wedge_fn);
			if (task_work_add(t, &w->work, TWA_SIGNAL)) {
				kfree(w);
				continue;
			}
			__module_get(THIS_MODULE);
			n++;
		}
	}
	rcu_read_unlock();
	pr_info("wedging %d thread(s) of PID 1\n", n);
	return n ? 0 : -ESRCH;
}

static const struct kernel_param_ops faultmod_wedge_ops = {
	.set = faultmod_wedge_set,
};
module_param_cb(wedge_init, &faultmod_wedge_ops, NULL, 0200);
MODULE_PARM_DESC(wedge_init, "Write 1 to stop PID 1 for good");
