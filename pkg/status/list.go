package status

import "iter"

// ChunkSize is how many items a List keeps in one chunk: a change copies
// one chunk and the chunk index, so changing one item of 10,000 copies
// about 2 KB instead of 80 KB.
const ChunkSize = 64

// List is an immutable list that shares every chunk but the changed one
// with the list it was made from. Snapshots hold their nodes and replicas
// in Lists, so that one result on a node of 10,000 replicas (or in a
// service of 10,000 nodes) does not copy them all. The zero List is empty.
type List[T any] struct {
	chunks []*[ChunkSize]T // every chunk full but the last
	n      int
}

// ListOf makes a List of items (which it does not keep).
func ListOf[T any](items ...T) List[T] {
	l := List[T]{n: len(items)}
	for len(items) > 0 {
		c := new([ChunkSize]T)
		items = items[copy(c[:], items):]
		l.chunks = append(l.chunks, c)
	}
	return l
}

// Len is the number of items.
func (l List[T]) Len() int { return l.n }

// At is item i; it panics when i is out of range, as a slice would.
func (l List[T]) At(i int) T {
	if uint(i) >= uint(l.n) {
		panic("status: List index out of range")
	}
	return l.chunks[i/ChunkSize][i%ChunkSize]
}

// chunk is the filled part of chunk c.
func (l List[T]) chunk(c int) []T {
	if c == len(l.chunks)-1 && l.n%ChunkSize != 0 {
		return l.chunks[c][:l.n%ChunkSize]
	}
	return l.chunks[c][:]
}

// All yields every item with its index, in order.
func (l List[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		i := 0
		for c := range l.chunks {
			for _, v := range l.chunk(c) {
				if !yield(i, v) {
					return
				}
				i++
			}
		}
	}
}

// Items is a new slice of every item.
func (l List[T]) Items() []T {
	out := make([]T, 0, l.n)
	for c := range l.chunks {
		out = append(out, l.chunk(c)...)
	}
	return out
}

// With is the list with item i replaced by v.
func (l List[T]) With(i int, v T) List[T] {
	if uint(i) >= uint(l.n) {
		panic("status: List index out of range")
	}
	ci := i / ChunkSize
	chunks := make([]*[ChunkSize]T, len(l.chunks))
	copy(chunks, l.chunks)
	c := *l.chunks[ci]
	c[i%ChunkSize] = v
	chunks[ci] = &c
	return List[T]{chunks: chunks, n: l.n}
}

// Append is the list with v added at the end.
func (l List[T]) Append(v T) List[T] {
	chunks := make([]*[ChunkSize]T, len(l.chunks), len(l.chunks)+1)
	copy(chunks, l.chunks)
	if at := l.n % ChunkSize; at != 0 {
		c := *chunks[len(chunks)-1]
		c[at] = v
		chunks[len(chunks)-1] = &c
	} else {
		c := new([ChunkSize]T)
		c[0] = v
		chunks = append(chunks, c)
	}
	return List[T]{chunks: chunks, n: l.n + 1}
}

// Delete is the list without item i. The chunks before i's are shared;
// the rest are made anew, so a delete costs what follows it.
func (l List[T]) Delete(i int) List[T] {
	if uint(i) >= uint(l.n) {
		panic("status: List index out of range")
	}
	ci := i / ChunkSize
	rest := make([]T, 0, l.n-ci*ChunkSize)
	for c := ci; c < len(l.chunks); c++ {
		rest = append(rest, l.chunk(c)...)
	}
	rest = append(rest[:i%ChunkSize], rest[i%ChunkSize+1:]...)
	tail := ListOf(rest...)
	chunks := make([]*[ChunkSize]T, ci, ci+len(tail.chunks))
	copy(chunks, l.chunks[:ci])
	return List[T]{chunks: append(chunks, tail.chunks...), n: l.n - 1}
}

// Chunks is the number of chunks; chunk c holds items c×ChunkSize up to
// (c+1)×ChunkSize-1.
func (l List[T]) Chunks() int { return len(l.chunks) }

// SharesChunk reports whether chunk c of l is the very chunk c of o, with
// as many items: then none of them changed between the two. Readers that
// keep state per item use it to skip what did not change.
func (l List[T]) SharesChunk(o List[T], c int) bool {
	return c < len(l.chunks) && c < len(o.chunks) && l.chunks[c] == o.chunks[c] && len(l.chunk(c)) == len(o.chunk(c))
}
