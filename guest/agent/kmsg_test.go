package agent

import (
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
)

func TestParseKmsg(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want event.KmsgRecord
		ok   bool
	}{
		{"plain", "6,339,5140900,-;NET: Registered protocol family 10\n",
			event.KmsgRecord{Seq: 339, Level: 6, Usec: 5140900, Text: "NET: Registered protocol family 10"}, true},
		{"dictionary dropped", "4,12,42,-,caller=T1;WARNING: CPU: 0 PID: 1 at x.c:1\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:01.0\n",
			event.KmsgRecord{Seq: 12, Level: 4, Usec: 42, Text: "WARNING: CPU: 0 PID: 1 at x.c:1"}, true},
		{"escapes restored", `3,1,2,-;tab\x09and\x5cslash` + "\n",
			event.KmsgRecord{Seq: 1, Level: 3, Usec: 2, Text: "tab\tand\\slash"}, true},
		{"bad escape kept", `3,1,2,-;end\x9` + "\n",
			event.KmsgRecord{Seq: 1, Level: 3, Usec: 2, Text: `end\x9`}, true},
		{"user facility", "14,7,9,-;hello from userspace\n",
			event.KmsgRecord{Seq: 7, Level: 6, Facility: 1, Usec: 9, Text: "hello from userspace"}, true},
		{"continuation", "4,8,9,c;more\n",
			event.KmsgRecord{Seq: 8, Level: 4, Usec: 9, Text: "more", Cont: true}, true},
		{"no separator", "6,1,2,-\n", event.KmsgRecord{}, false},
		{"short header", "6,1;x\n", event.KmsgRecord{}, false},
		{"bad number", "6,x,2,-;x\n", event.KmsgRecord{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseKmsg([]byte(tt.in))
			if ok != tt.ok || got != tt.want {
				t.Errorf("parseKmsg = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
