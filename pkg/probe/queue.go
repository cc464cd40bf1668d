package probe

import (
	"context"
	"sync"
	"time"

	"github.com/overvakt/overvakt/pkg/status"
)

// queueCheck is a node's RabbitMQ queue with its last answer, shared by the
// node's replicas so the queue is not asked once per replica.
type queueCheck struct {
	name             string
	nackHealthyBelow int
	nackDeadAbove    int

	mu       sync.Mutex // guards the fields below; never held during a check
	checking bool       // a replica of the node is asking right now
	at       time.Time  // of the last answer; zero before the first
	status   status.Status
	counts   *status.Queue // shared with results, never modified
	err      error
}

// get returns the last answer when it is younger than maxAge, else asks
// again. While one replica asks, the others use the previous answer instead
// of waiting (ok is false when there is none yet): a slow or hanging
// management API holds one poll worker, never the whole pool.
func (q *queueCheck) get(ctx context.Context, c QueueChecker, maxAge time.Duration) (st status.Status, counts *status.Queue, err error, ok bool) {
	q.mu.Lock()
	if q.checking || (!q.at.IsZero() && time.Since(q.at) < maxAge) {
		st, counts, err, ok = q.status, q.counts, q.err, !q.at.IsZero()
		q.mu.Unlock()
		return st, counts, err, ok
	}
	q.checking = true
	q.mu.Unlock()

	got, n, err := c.CheckQueue(ctx, q.name, q.nackHealthyBelow, q.nackDeadAbove)

	q.mu.Lock()
	defer q.mu.Unlock()
	q.checking = false
	if ctx.Err() != nil {
		return got, nil, err, false // shutting down: nothing worth keeping
	}
	q.at, q.status, q.err, q.counts = time.Now(), got, err, nil
	if err == nil {
		q.counts = &n
	}
	return q.status, q.counts, q.err, true
}
