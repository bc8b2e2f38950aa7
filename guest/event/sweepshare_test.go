package event

import "testing"

// TestSweepShares checks that the shares of a split sweep run each point
// once between them, from any point a fresh VM resumes at.
func TestSweepShares(t *testing.T) {
	for _, shares := range []int{0, 1, 2, 3, 4} {
		for _, from := range []int{0, 1, 2, 7, 10} {
			runs := map[int]int{}
			for share := 0; share < max(shares, 1); share++ {
				sw := &FaultSweep{Shares: shares, Share: share}
				for n := sw.FirstFrom(from); n < 40; n += sw.Step() {
					if !sw.Runs(n) {
						t.Fatalf("shares %d share %d from %d: FirstFrom and Step reach %d, which the share does not run", shares, share, from, n)
					}
					runs[n]++
				}
			}
			for n := max(from, 1); n < 40; n++ {
				if runs[n] != 1 {
					t.Errorf("shares %d from %d: point %d runs %d times, want once", shares, from, n, runs[n])
				}
			}
			if runs[0] != 0 || (from > 1 && runs[from-1] != 0) {
				t.Errorf("shares %d from %d: points before from ran: %v", shares, from, runs)
			}
		}
	}
}

func TestSweepShareFirstFrom(t *testing.T) {
	for _, c := range []struct{ shares, share, from, want int }{
		{2, 0, 1, 1}, {2, 1, 1, 2}, {2, 0, 2, 3}, {2, 1, 205, 206}, {3, 2, 1, 3}, {3, 0, 5, 7}, {1, 0, 9, 9}, {0, 0, -3, 1},
	} {
		sw := &FaultSweep{Shares: c.shares, Share: c.share}
		if got := sw.FirstFrom(c.from); got != c.want {
			t.Errorf("shares %d share %d: FirstFrom(%d) = %d, want %d", c.shares, c.share, c.from, got, c.want)
		}
	}
}
