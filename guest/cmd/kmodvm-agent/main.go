// Command kmodvm-agent is the init (PID 1) of kmodvm's test VMs: it runs the
// guest agent, which reports to the host over a serial port and powers off.
//
// It refuses to run as any other PID, since it mounts file systems and
// powers the machine off.
package main

import (
	"fmt"
	"os"

	"github.com/kmodvm/kmodvm/guest/agent"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "kmodvm-agent: must run as PID 1 inside a kmodvm VM; it powers the machine off")
		os.Exit(2)
	}
	agent.Main()
}
