/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences between the kernels mmapdrv supports (5.10 to 7.x),
 * kept in one place so that mmapdrv.c reads like code for the newest kernel.
 *
 * Changes the driver sidesteps rather than shims, so they need no guard:
 * - no_llseek became NULL in 6.0 and was removed in 6.12: the device is
 *   seekable and uses fixed_size_llseek(), present in every supported kernel.
 * - strlcpy() was removed in 6.8: the driver copies no strings.
 * - -Wmissing-prototypes is on by default since 6.8 (W=1 before): every
 *   function is static, so no prototype is ever missing.
 */
#ifndef MMAPDRV_COMPAT_H
#define MMAPDRV_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

/*
 * v6.3, commit bc292ab00f6c ("mm: introduce vma->vm_flags wrapper
 * functions"): vma->vm_flags became const and is changed through
 * vm_flags_set(), which also takes the per-VMA lock where one exists.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

#endif /* MMAPDRV_COMPAT_H */
