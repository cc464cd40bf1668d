package status

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestListAgainstSlice applies random edits to a List and to a plain slice
// and compares them after each, and checks that older lists never change.
func TestListAgainstSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l List[int]
	var want []int
	type kept struct {
		l    List[int]
		want []int
	}
	var history []kept
	for step := range 5000 {
		switch op := rng.IntN(10); {
		case op < 4 || len(want) == 0:
			l, want = l.Append(step), append(want, step)
		case op < 8:
			i := rng.IntN(len(want))
			l = l.With(i, -step)
			want = slices.Clone(want)
			want[i] = -step
		default:
			i := rng.IntN(len(want))
			l = l.Delete(i)
			want = slices.Delete(slices.Clone(want), i, i+1)
		}
		if l.Len() != len(want) || !slices.Equal(l.Items(), want) {
			t.Fatalf("step %d: list %v, want %v", step, l.Items(), want)
		}
		if step%97 == 0 {
			history = append(history, kept{l, slices.Clone(want)})
		}
	}
	for _, h := range history {
		if !slices.Equal(h.l.Items(), h.want) {
			t.Fatal("an older list changed when a newer one was made from it")
		}
		for i, v := range h.l.All() {
			if h.l.At(i) != v || h.want[i] != v {
				t.Fatalf("All and At disagree at %d", i)
			}
		}
	}
}

func TestListOfAndSharing(t *testing.T) {
	items := make([]int, 200)
	for i := range items {
		items[i] = i
	}
	l := ListOf(items...)
	if l.Len() != 200 || l.Chunks() != 4 || l.At(199) != 199 {
		t.Fatalf("ListOf: len %d, chunks %d", l.Len(), l.Chunks())
	}
	items[0] = 99 // ListOf keeps no reference to its argument
	if l.At(0) != 0 {
		t.Fatal("ListOf kept the caller's slice")
	}
	m := l.With(130, -1)
	for c := range l.Chunks() {
		if shared := m.SharesChunk(l, c); shared != (c != 2) {
			t.Errorf("chunk %d shared = %v, want %v", c, shared, c != 2)
		}
	}
	if (List[int]{}).Len() != 0 || len(List[int]{}.Items()) != 0 {
		t.Error("the zero List is not empty")
	}
	defer func() {
		if recover() == nil {
			t.Error("At out of range did not panic")
		}
	}()
	l.At(200)
}

func BenchmarkListWith(b *testing.B) {
	items := make([]*Replica, 10000)
	l := ListOf(items...)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l = l.With(i%10000, nil)
	}
}
