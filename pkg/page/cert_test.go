package page

import "testing"

func TestCertLeft(t *testing.T) {
	for days, want := range map[int]string{
		90: "90 days left", 1: "1 day left", 0: "0 days left",
		-1: "expired less than a day ago", -2: "expired 1 day ago", -3: "expired 2 days ago",
	} {
		if got := certLeft(days); got != want {
			t.Errorf("certLeft(%d) = %q, want %q", days, got, want)
		}
	}
}
