package dmesg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ownSummary writes a KCSAN report's accesses as "task:f[mod],g" or
// "irq:f,g", each with its own frames only (module in brackets).
func ownSummary(accs []KCSANAccess) string {
	var parts []string
	for _, a := range accs {
		who := "task:"
		if a.Interrupt {
			who = "irq:"
		}
		var fs []string
		for _, fr := range a.Own() {
			name := fr.Func
			if fr.Module != "" {
				name += "[" + fr.Module + "]"
			}
			fs = append(fs, name)
		}
		parts = append(parts, who+strings.Join(fs, ","))
	}
	return strings.Join(parts, " | ")
}

// The accesses of real KCSAN reports of 6.1-kcsan, each with the frames
// of its own context: an interrupt's stack stops at its entry, before
// the frames of the code it interrupted (a module's exit, below, which is
// not a party to that race).
func TestKCSANAccesses(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string // one per KCSAN report in the file
	}{
		{"kcsan/rcu-under-module-exit.console", []string{
			"irq:rcu_report_qs_rdp,rcu_core,rcu_core_si | task:rcu_all_qs,__cond_resched,__vunmap,vfree,mmapdrv_exit[mmapdrv],__x64_sys_delete_module,x64_sys_call,do_syscall_64,entry_SYSCALL_64_after_hwframe",
		}},
		{"kcsan/module-copies.console", []string{
			"task:_copy_to_user,simple_read_from_buffer,mmapdrv_read[mmapdrv],vfs_read,__x64_sys_pread64,x64_sys_call,do_syscall_64,entry_SYSCALL_64_after_hwframe | task:_copy_from_user,mmapdrv_write[mmapdrv],vfs_write,__x64_sys_pwrite64,x64_sys_call,do_syscall_64,entry_SYSCALL_64_after_hwframe",
		}},
		{"kcsan/hrtimer.console", []string{
			"irq:hrtimer_wakeup,__hrtimer_run_queues | task:do_nanosleep,hrtimer_nanosleep,__x64_sys_nanosleep,x64_sys_call,do_syscall_64,entry_SYSCALL_64_after_hwframe",
		}},
		{"report/6.1-kcsan/sanmod.console", []string{
			"task:sanmod_race_fn[sanmod],kthread,ret_from_fork | task:sanmod_race_fn[sanmod],kthread,ret_from_fork",
			"task:sanmod_race_fn[sanmod],kthread,ret_from_fork | task:sanmod_race_fn[sanmod],kthread,ret_from_fork",
			"task:sanmod_race_fn[sanmod],kthread,ret_from_fork",
		}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range Scan(b) {
			if f.Kind == KindKCSAN {
				got = append(got, ownSummary(KCSANAccesses(f.Report)))
			}
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\ngot  %q\nwant %q", c.file, got, c.want)
		}
	}
	if accs := KCSANAccesses("BUG: kernel NULL pointer dereference, address: 0000000000000000\n"); accs != nil {
		t.Errorf("a report that is not KCSAN's has accesses %v", accs)
	}
}
