package push

import (
	"strconv"
	"testing"
)

// TestWholePercentMatchesPage: two loads count as the same exactly when the
// page prints them the same (pkg/page formats f*100 with no decimals).
func TestWholePercentMatchesPage(t *testing.T) {
	page := func(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) }
	for i := range 200_001 {
		for _, f := range []float64{float64(i) / 100_000, float64(i) / 1000, float64(i)/100_000 + 0.005} {
			if got, want := strconv.FormatFloat(wholePercent(f), 'f', 0, 64), page(f); got != want {
				t.Fatalf("load %v: wholePercent says %s%%, the page prints %s%%", f, got, want)
			}
		}
	}
	for _, f := range []float64{0.125, 0.135, 0.005, 0.015, 1e300, 5e-324} {
		if got, want := strconv.FormatFloat(wholePercent(f), 'f', 0, 64), page(f); got != want {
			t.Fatalf("load %v: wholePercent says %s%%, the page prints %s%%", f, got, want)
		}
	}
}
