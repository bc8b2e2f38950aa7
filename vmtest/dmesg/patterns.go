package dmesg

import (
	"regexp"
	"slices"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// Kind classifies a finding.
type Kind string

// Finding kinds. Every kind but KindTaint is a kernel bug report.
const (
	KindWarning        Kind = "WARNING"
	KindBUG            Kind = "BUG"
	KindOops           Kind = "Oops"
	KindGPF            Kind = "general protection fault"
	KindKASAN          Kind = "KASAN"
	KindKCSAN          Kind = "KCSAN"
	KindKFENCE         Kind = "KFENCE"
	KindKMSAN          Kind = "KMSAN"
	KindUBSAN          Kind = "UBSAN"
	KindMemoryLeak     Kind = "memory leak"
	KindLockdep        Kind = "lockdep"
	KindHungTask       Kind = "hung task"
	KindSoftLockup     Kind = "soft lockup"
	KindHardLockup     Kind = "hard lockup"
	KindRCUStall       Kind = "RCU stall"
	KindPanic          Kind = "Kernel panic"
	KindAtomicSleep    Kind = "sleep in atomic context"
	KindUsercopy       Kind = "usercopy"
	KindRefcount       Kind = "refcount"
	KindListCorruption Kind = "list corruption"
	KindTaint          Kind = "taint"
)

// IsBug reports whether findings of kind k are kernel bug reports. Taint
// messages are informational: loading any out-of-tree module taints.
func (k Kind) IsBug() bool { return k != KindTaint }

// A pattern recognizes one kind of report by its first line. Title is a
// template: $name expands to a named group of the header or the body, and
// "in $func" stands for " in FUNC" with the guilty function found in the
// report, and disappears when none is found (see expand). The table is ordered: the first matching
// pattern wins, so specific headers come before generic ones.
type pattern struct {
	kind Kind
	// key is a literal every header of the pattern contains: most log
	// lines contain no key, and strings.Contains rejects them cheaply.
	key   string
	start *regexp.Regexp
	title string
	// single: the report is the header line alone.
	single bool
	// end, if set, is the line that closes the report (and belongs to
	// it); such a report runs past its call trace up to that line.
	end *regexp.Regexp
	// body lines fill more groups: the first match of each regexp sets
	// the groups the header left unset ("Write of size 8" after a KASAN
	// header; a lockdep report's "at: func" names the guilty function).
	body []*regexp.Regexp
	// prefix is printed before every line of the report and ignored.
	prefix string
	// skip lists functions that are not guilty in this kind of report
	// only, on top of genericFuncs.
	skip *regexp.Regexp
	// handler: the func and module a body line names are the report's
	// Handler, code its trace does not show.
	handler bool
}

// funcRE matches a symbolized code location "func+0x1a/0x40 [module]".
const funcRE = `(?P<func>[A-Za-z0-9_.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[(?P<module>[A-Za-z0-9_]+)\])?`

var patterns = []pattern{
	// Lockdep reports begin "WARNING: ..." and must win over WARNING.
	{kind: KindLockdep, key: "WARNING: possible", start: re(`^WARNING: possible (?:recursive locking|circular locking dependency|irq lock inversion dependency) detected`), title: "possible deadlock in $func", body: lockdepAt},
	{kind: KindLockdep, key: "WARNING: inconsistent", start: re(`^WARNING: inconsistent lock state`), title: "inconsistent lock state in $func", body: lockdepAt},
	{kind: KindLockdep, key: "WARNING: ", start: re(`^WARNING: (?P<what>suspicious RCU usage|bad unlock balance detected!|held lock freed!|lock held when returning to user space!|still has locks held!)`), title: "lockdep: $what in $func"},
	{kind: KindLockdep, key: "BUG: ", start: re(`^BUG: (?P<what>held lock freed!|lock held when returning to user space!|bad unlock balance detected!)`), title: "lockdep: $what in $func"},
	{kind: KindWarning, key: "WARNING: CPU:", start: re(`^WARNING: CPU: \d+ PID: \d+ at \S+ ` + funcRE), title: "WARNING in $func"},
	{kind: KindWarning, key: "WARNING: ", start: re(`^WARNING: (?:at \S+ )?` + funcRE), title: "WARNING in $func"},
	// Newer kernels (7.3 here): "WARNING: file.c:168 at func+0x1a3/0x3d6 [mod], CPU#0: init/94".
	{kind: KindWarning, key: "WARNING: ", start: re(`^WARNING: \S+:\d+ at ` + funcRE), title: "WARNING in $func"},
	// "BUG: KASAN: slab-out-of-bounds in f+0x5d/0x80 [m]", then "Write of size 1 at addr ...".
	{kind: KindKASAN, key: "BUG: KASAN:", start: re(`^BUG: KASAN: (?P<what>[a-z-]+(?: [a-z-]+)*?) in ` + funcRE), title: "KASAN: $what $access in $func", end: separator,
		body: []*regexp.Regexp{re(`^(?P<access>Read|Write) of size \d+`)}},
	// "BUG: KCSAN: data-race in f / g", or with one function when the other access is unknown.
	{kind: KindKCSAN, key: "BUG: KCSAN:", start: re(`^BUG: KCSAN: (?P<what>[a-z:-]+(?: [a-z-]+)*?) in (?P<left>[A-Za-z0-9_.$]+)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?(?: \[(?P<module>[A-Za-z0-9_]+)\])? / (?P<right>[A-Za-z0-9_.$]+)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?(?: \[[A-Za-z0-9_]+\])?\s*$`), title: "KCSAN: $what in $left / $right", end: separator},
	{kind: KindKCSAN, key: "BUG: KCSAN:", start: re(`^BUG: KCSAN: (?P<what>[a-z:-]+(?: [a-z-]+)*?) in ` + funcRE), title: "KCSAN: $what in $func", end: separator},
	{kind: KindKMSAN, key: "BUG: KMSAN:", start: re(`^BUG: KMSAN: (?P<what>[a-z-]+(?: [a-z-]+)*?) in ` + funcRE), title: "KMSAN: $what in $func", end: separator},
	// "BUG: KFENCE: out-of-bounds read in f+0xa6/0x234".
	{kind: KindKFENCE, key: "BUG: KFENCE:", start: re(`^BUG: KFENCE: (?P<what>[a-z- ]+?) in ` + funcRE), title: "KFENCE: $what in $func", end: separator},
	// "UBSAN: array-index-out-of-bounds in drivers/x.c:12:9" (before 5.11: "UBSAN: Undefined behaviour in x.c:12:9").
	{kind: KindUBSAN, key: "UBSAN: ", start: re(`^UBSAN: (?P<what>[A-Za-z- ]+?) in (?P<loc>\S+:\d+)(?::\d+)?\s*$`), title: "UBSAN: $what in $loc", end: separator},
	{kind: KindUBSAN, key: "UBSAN: ", start: re(`^UBSAN: (?P<what>[A-Za-z- ]+?) in \S+`), title: "UBSAN: $what in $func", end: separator},
	// kmemleak, in /sys/kernel/debug/kmemleak or (kmemleak.verbose=1) the kernel log.
	{kind: KindMemoryLeak, key: "unreferenced object 0x", start: re(`^(?:kmemleak: )?unreferenced object 0x[0-9a-f]+ \(size \d+\):`), title: "memory leak in $func",
		prefix: "kmemleak: ", skip: allocFuncs},
	{kind: KindAtomicSleep, key: "BUG: sleeping function", start: re(`^BUG: sleeping function called from invalid context`), title: "BUG: sleeping function called from invalid context in $func"},
	{kind: KindAtomicSleep, key: "BUG: scheduling while atomic", start: re(`^BUG: scheduling while atomic`), title: "BUG: scheduling while atomic in $func"},
	{kind: KindAtomicSleep, key: "BUG: using ", start: re(`^BUG: (?P<what>using smp_processor_id\(\) in preemptible|using __this_cpu_\w+\(\) in preemptible)`), title: "BUG: $what in $func"},
	{kind: KindSoftLockup, key: "BUG: soft lockup", start: re(`^(?:watchdog: )?BUG: soft lockup - CPU#\d+ stuck`), title: "BUG: soft lockup in $func"},
	{kind: KindHardLockup, key: "hard LOCKUP", start: re(`^(?:NMI )?[Ww]atchdog(?::| detected) (?:Watchdog detected )?hard LOCKUP on cpu \d+`), title: "hard lockup in $func"},
	{kind: KindHungTask, key: "INFO: task ", start: re(`^INFO: task \S+ blocked for more than \d+ seconds`), title: "INFO: task hung in $func"},
	{kind: KindRCUStall, key: "INFO: rcu_", start: re(`^(?:rcu: )?INFO: rcu_(?:preempt|sched|bh) (?:self-)?detected (?:expedited )?stalls?`), title: "INFO: rcu detected stall in $func"},
	{kind: KindUsercopy, key: "usercopy: ", start: re(`^usercopy: Kernel memory (?P<what>exposure|overwrite) attempt detected`), title: "usercopy: kernel memory $what attempt in $func"},
	{kind: KindRefcount, key: "refcount_t: ", start: re(`^refcount_t: (?P<what>[^.;]+)`), title: "refcount_t: $what in $func"},
	{kind: KindListCorruption, key: " corruption", start: re(`^(?P<what>list_(?:add|del)) corruption`), title: "$what corruption in $func"},
	{kind: KindBUG, key: "kernel BUG at ", start: re(`^kernel BUG at \S+:\d+!`), title: "kernel BUG in $func"},
	{kind: KindOops, key: "BUG: kernel NULL pointer", start: re(`^BUG: kernel NULL pointer dereference`), title: "BUG: kernel NULL pointer dereference in $func"},
	{kind: KindOops, key: "BUG: unable to handle", start: re(`^BUG: unable to handle (?:page fault|kernel paging request|kernel NULL pointer dereference)`), title: "BUG: unable to handle page fault in $func"},
	// arm64 says "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000"
	// (or "paging request at ..."), then "Internal error: Oops: 0000000096000007 [#1] SMP": titled as x86's
	// reports of the same faults, so that one bug has one name on both.
	{kind: KindOops, key: "Unable to handle kernel ", start: re(`^Unable to handle kernel NULL pointer dereference`), title: "BUG: kernel NULL pointer dereference in $func"},
	{kind: KindOops, key: "Unable to handle kernel ", start: re(`^Unable to handle kernel (?:paging request|execute from non-executable memory|write to read-only memory|access to user memory)`), title: "BUG: unable to handle page fault in $func"},
	// 32-bit Arm says "Unhandled fault: page domain fault (0x01b) at 0x00000000" for an access the
	// MMU's domains refuse (a NULL pointer under software PAN among them), then "Internal error: :
	// 1b [#1] SMP ARM". An address in the first page is a NULL pointer's, as x86 tells them.
	// POWER says "BUG: Kernel NULL pointer dereference on read at 0x00000000" and "BUG: Unable to
	// handle kernel data access at 0x5deadbeef0000100" (or instruction fetch), then "Oops: Kernel
	// access of bad area, sig: 11 [#1]".
	{kind: KindOops, key: "BUG: Kernel NULL pointer", start: re(`^BUG: Kernel NULL pointer dereference on `), title: "BUG: kernel NULL pointer dereference in $func"},
	{kind: KindOops, key: "BUG: Unable to handle", start: re(`^BUG: Unable to handle (?:kernel data access|kernel instruction fetch|unknown paging fault)`), title: "BUG: unable to handle page fault in $func"},
	{kind: KindOops, key: "Unhandled fault: ", start: re(`^Unhandled fault: .* at 0x00000[0-9a-f]{3}$`), title: "BUG: kernel NULL pointer dereference in $func"},
	{kind: KindOops, key: "Unhandled fault: ", start: re(`^Unhandled fault: .* at 0x[0-9a-f]+$`), title: "BUG: unable to handle page fault in $func"},
	{kind: KindGPF, key: "general protection fault", start: re(`^(?:Oops: )?general protection fault`), title: "general protection fault in $func"},
	{kind: KindOops, key: " [#", start: re(`^(?:(?:Oops: )?[A-Za-z][A-Za-z ]*: [0-9a-f]{4}|Internal error: [A-Za-z -]*: [0-9a-f]+) \[#\d+\]`), title: "Oops in $func"},
	{kind: KindPanic, key: "Kernel panic - not syncing: ", start: re(`^Kernel panic - not syncing: (?P<what>.*?)\s*$`), title: "Kernel panic - not syncing: $what"},
	// mm's checks of a page: "BUG: Bad page map in process mmapdrv.test  pte:8000000004a3b025
	// pmd:05d8a067" (print_bad_pte) and "BUG: Bad page state in process x  pfn:04a3b" (bad_page).
	// Titled without the values, as syzkaller does, so that every report of one bug has one
	// title; the process keeps its name, which is the same from run to run. The mapping's
	// own handler ("file:mmapdrv fault:0x0 mmap:mmapdrv_mmap [mmapdrv] ...") names the module.
	{kind: KindBUG, key: "BUG: Bad page ", start: re(`^BUG: Bad page (?P<what>map|state) in process (?P<comm>.+?)\s+(?:pte|pfn):`),
		title: "BUG: Bad page $what in process $comm", body: badPageVMA, skip: pageFuncs, handler: true},
	// Lines that stand alone: the ratelimit's count of the page reports it held back, and
	// the counters a process's exit found wrong ("mm:00000000a9f3c1d2 type:MM_FILEPAGES val:-3").
	{kind: KindBUG, key: "BUG: Bad ", start: re(`^BUG: Bad (?P<what>page map|page state): \d+ messages suppressed`), title: "BUG: Bad $what: messages suppressed", single: true},
	{kind: KindBUG, key: "BUG: Bad rss-counter", start: re(`^BUG: Bad rss-counter state mm:`), title: "BUG: Bad rss-counter state", single: true},
	// A page table entry that is neither a page nor a swap entry, met on a
	// fault ("get_swap_device: Bad swap file entry 340392ce694072f9"): the
	// fault is retried, and printed, for ever.
	{kind: KindBUG, key: "Bad swap file entry", start: re(`^(?P<fn>\w+): Bad swap file entry`), title: "$fn: Bad swap file entry", single: true},
	// The words before the first "key:value" or the first ":", "!" or ",".
	{kind: KindBUG, key: "BUG: ", start: re(`^BUG: (?P<what>[^:!,]+?)(?:\s+\w+:\S|[:!,]|\s*$)`), title: "BUG: $what in $func"},
	{kind: KindTaint, key: "taint", start: re(`^(?P<what>.*(?:taints kernel|- tainting kernel)).*$`), title: "$what", single: true},
}

// lockdepAt finds the guilty function of a lockdep report: where the lock
// it complains about was taken ("(&dev->lock){+.+.}-{3:3}, at: f+0x3c/0x90 [m]").
var lockdepAt = []*regexp.Regexp{re(`, at: (?:\[<(?:[0-9a-f]+|\(____ptrval____\))>\] )?` + funcRE)}

// allocFuncs are the allocator's own frames in a leak's backtrace: the
// leak is in the first frame that is none of them.
var allocFuncs = re(`^(?:` +
	`kmemleak_\w+|__?kmalloc\w*|kmalloc_trace\w*|kzalloc\w*|kcalloc\w*|krealloc\w*|__krealloc|kmemdup\w*|kstrn?dup\w*|` +
	`__?kmem_cache_alloc\w*|kmem_cache_zalloc|slab_alloc\w*|__?_?slab_alloc\w*|slab_post_alloc_hook|__do_kmalloc_node|` +
	`kmalloc_large\w*|kmalloc_order\w*|__?kvmalloc\w*|kvzalloc\w*|kvcalloc\w*|` +
	`__?vmalloc\w*|vzalloc\w*|vmalloc_user|__vmalloc_area_node|__get_vm_area\w*|alloc_vmap_area|` +
	`__?alloc_pages\w*|__get_free_pages|get_zeroed_page|alloc_page_interleave|__folio_alloc\w*|folio_alloc\w*|` +
	`devm_kmalloc|devm_kzalloc|__alloc_percpu\w*|pcpu_alloc` +
	`)$`)

// badPageVMA finds the handler of the mapping a bad page map is in,
// when a module's: "file:mmapdrv fault:0x0 mmap:mmapdrv_mmap [mmapdrv]
// read_folio:0x0".
var badPageVMA = []*regexp.Regexp{re(`^file:.*? (?:fault|mmap):(?P<func>[A-Za-z0-9_.$]+) \[(?P<module>[A-Za-z0-9_]+)\]`)}

// pageFuncs are the memory manager's frames in a page check's trace: the
// page tables being torn down or the page being freed, not the code that
// got the page wrong.
var pageFuncs = re(`^(?:print_bad_pte|vm_normal_\w+|zap_\w+|unmap_\w+|do_mas_\w*munmap|__vm_munmap|exit_mmap|__?mmput|` +
	`bad_page|free_page_is_bad\w*|check_free_page\w*|free_pages_prepare|free_unref_page\w*|free_the_page|` +
	`__free_pages\w*|free_pages|__folio_put\w*|folio_put\w*|put_page\w*|release_pages|check_new_pages?\w*)$`)

// separator is the ruler that closes sanitizer reports.
var separator = re(`^={20,}$`)

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// genericFuncs are frames that report or route a fault rather than cause
// it; the guilty function is the first frame that is none of them.
var genericFuncs = re(`^(?:` +
	`dump_stack(?:_lvl)?|show_stack|dump_backtrace|panic|vpanic|nmi_panic|__warn|warn_slowpath_\w+|report_bug|handle_bug|` +
	`exc_\w+|asm_exc_\w+|asm_sysvec_\w+|sysvec_\w+|__sysvec_\w+|do_error_trap|do_trap|die|__die\w*|oops_end|` +
	`page_fault_oops|do_user_addr_fault|kernelmode_fixup_or_oops|__bad_area\w*|bad_area\w*|no_context|` +
	`make_task_dead|do_exit|do_group_exit|` +
	`usercopy_abort|__check_object_size|check_heap_object|__check_heap_object|_copy_to_user|_copy_from_user|` +
	`__list_add_valid\w*|__list_del_entry_valid\w*|__list_add|list_add|refcount_warn_saturate|` +
	`__schedule_bug|__schedule|schedule|__switch_to|cpu_switch_to|schedule_timeout|schedule_preempt_disabled|io_schedule\w*|` +
	`__wait_for_common|wait_for_common|do_wait_for_common|wait_for_completion\w*|msleep|usleep_range\w*|` +
	`__might_sleep|__might_resched|___might_sleep|might_sleep|preempt_schedule\w*|` +
	`_raw_spin_\w+|_raw_read_\w+|_raw_write_\w+|queued_spin_lock_slowpath|native_queued_spin_lock_slowpath|` +
	`mutex_lock\w*|__mutex_lock\w*|mutex_unlock|down|down_(?:read|write|interruptible|killable|trylock|timeout)\w*|` +
	`__cond_resched\w*|_cond_resched|__might_fault|might_fault|` +
	`watchdog_timer_fn|__hrtimer_run_queues|hrtimer_interrupt|__run_hrtimer|` +
	`unknown_nmi_error|default_do_nmi|exc_nmi|end_repeat_nmi|nmi_handle|` +
	`kasan_\w+|__kasan_\w+|__asan_\w+|print_report|ubsan_\w+|__ubsan_\w+|` +
	`lock_acquire|lock_release|__lock_acquire|validate_chain|mark_lock\w*|lockdep_rcu_\w+|` +
	`print_(?:circular_bug|deadlock_bug|usage_bug|bad_irq_dependency|lock_contention_bug)\w*|` +
	`check_(?:noncircular|prev_add|prevs_add|deadlock|irq_usage|usage_\w+)|` +
	`__copy_overflow|copy_overflow|check_copy_size|` +
	`(?:__)?mem(?:set|cpy|move|cmp|chr)|str(?:n|l|s)?cpy|strn?cmp|strn?len|strr?chr|` + // the library a caller misused
	`rcu_\w+|print_cpu_stall\w*|` +
	`entry_SYSCALL_64\w*|do_syscall_64|syscall_exit\w*|exit_to_user_mode\w*|` +
	`__x64_sys_\w+|__se_sys_\w+|__do_sys_\w+|ksys_\w+|` +
	`el0t_64_sync\w*|el0_svc\S*|do_el0_svc|invoke_syscall|__arm64_sys_\w+|` + // arm64's syscall entry
	`el1h_64_sync\w*|el1_abort|el1_dbg|el1_undef|do_mem_abort|do_translation_fault|do_page_fault|do_bad_area|` +
	`__do_kernel_fault|die_kernel_fault|do_debug_exception|bug_brk_handler|call_break_hook|brk_handler|arm64_notify_die|` +
	`ret_from_fork\w*|kthread|worker_thread|process_one_work|smpboot_thread_fn|` +
	`do_one_initcall|do_init_module|load_module|init_module_from_file|idempotent_init_module|` +
	`stop_machine_yield|multi_cpu_stop|cpu_stopper_thread` +
	`)$`)

// Lines that belong to a trace or a register dump: once a report's call
// trace has begun, the first line that is none of these ends the report.
var traceLine = re(`^(?:` +
	`\s*(?:\? +)?[A-Za-z0-9_.$]+\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[A-Za-z0-9_]+\])?.*|` + // frame
	`\s*\[<(?:[0-9a-f]+|\(____ptrval____\))>\].*|` + // old-style frame
	`\s*[A-Za-z0-9_.$]+(?: \[[A-Za-z0-9_]+\])? from .*|` + // 32-bit Arm's frame
	`\s*(?:\? +)?0x[0-9a-f]{8,16}|` + // bare address
	`\s*</?(?:TASK|IRQ|NMI|SOFTIRQ|EOI|#DF|DB|MCE|VC)>|` +
	`\s*(?:RIP|RSP|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\d+|FS|GS|CS|DS|ES|CR\d|DR\d|Code|PKRU|EFLAGS|ORIG_RAX):.*|` +
	`\s*(?:EIP|EAX|EBX|ECX|EDX|ESI|EDI|EBP|ESP):.*|` + // 32-bit x86's, an NMI's after its frames
	`\s*(?:pc|sp|r\d+) *: .*|\s*(?:Flags|Control|Stack|Register r\d+ information): .*|` + // 32-bit Arm's registers and stack
	`\s*(?:Process \S+ \(pid: .*|Exception stack\(0x[0-9a-f]+ to 0x[0-9a-f]+\)|[0-9a-f]{4}:(?: +[0-9a-f]{8})+)|` +
	`\s*R\d+: .*|` +
	`\s*(?:\[[0-9a-f]{16}\] +){1,2}.*|\s*(?:NIP|LR) \[.*|` + // POWER's frames, its NIP and LR named
	`\s*(?:NIP|LR|REGS|MSR|CFAR|IRQMASK|GPR\d\d|Instruction dump):.*|--- interrupt: .*|(?:<?[0-9a-f]{8}>? ?)+|` + // POWER's registers and code
	`\s*\(\[<[0-9a-f]+>\].*\)|Last Breaking-Event-Address:|` + // s390's return address in parentheses, its last branch
	`Call [Tt]race:|Modules linked in:.*|Kernel Offset:.*|note: .*|Showing stack for process.*|` +
	`CPU: \d+ (?:UID: \d+ )?PID: .*|Tainted: .*|Hardware name: .*|Stopper: .*|Workqueue: .*|irq event stamp: .*|(?:hard|soft)irqs last .*|` +
	`---\[ end .*` +
	`)$`)

// embeddedTS finds a console timestamp inside a line that user space
// started.
var embeddedTS = re(`\[ *\d+\.\d{6}\] `)

// cutHere comes before a WARNING or BUG and the message passed to it.
var cutHere = re(`^-+\[ cut here \]-+$`)

// endMarker ends a report and belongs to it.
var endMarker = re(`^---\[ end (?:trace|Kernel panic)`)

// callTrace starts a report's call trace: each architecture's TraceStart
// ("Call Trace:" on x86, "Call trace:" on arm64), or "backtrace:" in
// kmemleak's reports.
var callTrace = re(`^\s*(?:` + crashAlternatives(func(c arch.Crash) string { return c.TraceStart }) +
	`|backtrace(?: \(crc [0-9a-f]+\))?:)\s*$`)

// pcLine names the faulting kernel code, after each architecture's FaultIP
// or FaultLR: "RIP: 0010:func+0x1/0x2 [mod]" on x86, "pc : func+0x1/0x2
// [mod]" and "lr : ..." on arm64.
var pcLine = re(`^\s*(` + crashAlternatives(func(c arch.Crash) string { return c.FaultIP }) + `|` +
	crashAlternatives(func(c arch.Crash) string { return c.FaultLR }) + `)(.*)$`)

// lrPrefixes are the architectures' FaultLR lines.
var lrPrefixes = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range arch.Names() {
		if lr := arch.Must(n).Crash.FaultLR; lr != "" {
			m[lr] = true
		}
	}
	return m
}()

// crashAlternatives is a regexp alternation of one field of every
// architecture's crash dialect, quoted.
func crashAlternatives(field func(arch.Crash) string) string {
	var alts []string
	for _, n := range arch.Names() {
		if v := field(arch.Must(n).Crash); v != "" && !slices.Contains(alts, regexp.QuoteMeta(v)) {
			alts = append(alts, regexp.QuoteMeta(v))
		}
	}
	return strings.Join(alts, "|")
}

// frameLine is one call trace frame: "func+0x1a/0x40 [mod]", after an
// old-style "[<address>] ", POWER's "[stack] [address] " (and the
// "[address] " its NIP and LR lines leave after their prefix), the
// "mask address (" s390's Krnl PSW line leaves, 32-bit Arm's "callee [mod] from " (the frame
// is the return address in the caller), and "? " for questionable frames,
// or a bare address the kernel could not name. Groups: ?, func, offset, size,
// module, address.
var frameLine = re(`^\s*(?:\[<(?:[0-9a-f]+|\(____ptrval____\))>\] +|(?:\[[0-9a-f]{16}\] +){1,2}|[0-9a-f]{16} [0-9a-f]{16} \()?(?:[A-Za-z0-9_.$]+(?: \[[A-Za-z0-9_]+\])? from )?(\? +)?(?:([A-Za-z0-9_.$]+)\+0x([0-9a-f]+)/0x([0-9a-f]+)(?: \[([A-Za-z0-9_]+)[^\]]*\])?|0x([0-9a-f]{8,16})\s*$)`)

// stackEnd ends a stack without ending the report: s390's last branch
// before the fault, whose one frame follows the call trace and is none of
// its frames.
var stackEnd = re(`^\s*Last Breaking-Event-Address:\s*$`)

// armFrame is a frame of 32-bit Arm's unwinder, which names the callee
// before the return address: "callee [mod] from caller+0x1/0x2".
var armFrame = re(`^\s*[A-Za-z0-9_.$]+(?: \[[A-Za-z0-9_]+\])? from [A-Za-z0-9_.$]+\+0x`)

// taintedRE finds the taint flags on a "CPU: 0 PID: 1 Comm: x Tainted: G W OE 6.1.0" line.
var taintedRE = re(`(?:Not tainted|Tainted: (?P<flags>[A-Z ]+?))(?:\s+\d+\.\d+|\s*$)`)
