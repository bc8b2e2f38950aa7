package agent

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"golang.org/x/sys/unix"
)

// ueventRcvBuf is the socket's receive buffer: uevents of every device
// share it, and a test that reloads a module in a loop must not overflow
// it while the agent reads a module's sections.
const ueventRcvBuf = 4 << 20

// uevents is a socket on the kernel's uevent broadcast
// (NETLINK_KOBJECT_UEVENT), the one announcement of every module's load
// and removal, whoever asked for it: the agent, a test's finit_module or
// delete_module, or modprobe. /proc/modules shows only the present.
type uevents struct{ fd int }

// openUevents subscribes to the kernel's uevents.
func openUevents() (*uevents, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("uevent socket: %w", err)
	}
	// FORCE: PID 1 may pass net.core.rmem_max.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, ueventRcvBuf); err != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, ueventRcvBuf)
	}
	// Group 1 is the kernel's own broadcast (udev re-sends on group 2).
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("uevent bind: %w", err)
	}
	return &uevents{fd: fd}, nil
}

// followModules sends a ModuleAdded or ModuleRemoved event for every
// module uevent until the socket fails. paths maps module names to the
// files the run configuration loads them from, for their section sizes.
//
// It runs on a thread of its own at the highest nice level, blocked in
// the kernel, and reads a module's place at once: the event's time is
// when the kernel announced it (the host tells the module that allocated
// a leaked object from the one loaded at its address later by it), and
// a test may unload the module right after loading it.
func (a *Agent) followModules(u *uevents, paths map[string]string) {
	runtime.LockOSThread() // never unlocked: the thread ends with us
	unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), -20)
	sizes := sectionSizer{}
	buf := make([]byte, 16<<10)
	var last uint64 // the last SEQNUM heard
	for {
		n, err := unix.Read(u.fd, buf)
		mono := event.Monotonic()
		switch {
		case errors.Is(err, unix.ENOBUFS):
			// A full socket, or an allocation of the broadcast failed: a
			// test injecting slab faults into module loads fails those
			// of the loads' own announcements too.
			a.logf("uevents: the kernel could not deliver some (ENOBUFS): some module loads or unloads are unknown")
			continue
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			a.logf("uevents: %v", err)
			return
		}
		if seq, ok := ueventSeq(buf[:n]); ok {
			if last != 0 && seq > last+1 {
				a.logf("uevents: the kernel numbered %d it never delivered (SEQNUM %d-%d): a failed allocation, as slab fault injection makes; module loads or unloads may be unknown", seq-last-1, last+1, seq-1)
			}
			last = max(last, seq)
		}
		action, name, ok := parseModuleUevent(buf[:n])
		if !ok {
			continue
		}
		ev := event.Event{Type: event.ModuleRemoved, Module: &event.Module{Name: name}, Mono: mono}
		if action == "add" {
			ev.Type = event.ModuleAdded
			ev.Loaded = loadedModule(name, sizes.of(paths[name]))
		}
		a.emit(ev)
	}
}

// parseModuleUevent reads a kernel uevent ("add@/module/mmapdrv\0ACTION=add
// \0DEVPATH=/module/mmapdrv\0SUBSYSTEM=module\0SEQNUM=1234\0"): a module's
// load or removal gives its action and the module's name, other uevents
// (devices) ok false.
func parseModuleUevent(msg []byte) (action, name string, ok bool) {
	var subsystem, devpath string
	for _, f := range bytes.Split(msg, []byte{0}) {
		k, v, found := strings.Cut(string(f), "=")
		if !found {
			continue
		}
		switch k {
		case "ACTION":
			action = v
		case "DEVPATH":
			devpath = v
		case "SUBSYSTEM":
			subsystem = v
		}
	}
	name, isModule := strings.CutPrefix(devpath, "/module/")
	if subsystem != "module" || !isModule || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	if action != "add" && action != "remove" {
		return "", "", false
	}
	return action, name, true
}

// ueventSeq reads a uevent's SEQNUM: the kernel numbers every uevent it
// sends.
func ueventSeq(msg []byte) (uint64, bool) {
	for _, f := range bytes.Split(msg, []byte{0}) {
		if v, ok := bytes.CutPrefix(f, []byte("SEQNUM=")); ok {
			n, err := strconv.ParseUint(string(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// modulePaths maps the names of the configuration's modules to their
// files.
func modulePaths(mods []event.Module) map[string]string {
	paths := map[string]string{}
	for _, m := range mods {
		paths[moddep.Name(moduleName(m))] = m.Path
	}
	return paths
}
