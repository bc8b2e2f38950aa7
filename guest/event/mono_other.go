//go:build !linux

package event

import "time"

var start = time.Now()

// monotonic approximates CLOCK_MONOTONIC where the host is not Linux: only
// the guest's clock is meaningful, and the guest is always Linux.
func monotonic() int64 { return int64(time.Since(start)) }
