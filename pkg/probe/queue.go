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

	mu     sync.Mutex // held during a check: replicas of the node wait for one answer
	at     time.Time  // of the last answer; zero before the first
	status status.Status
	counts *status.Queue // shared with results, never modified
	err    error
}

// get returns the last answer when it is younger than maxAge, else asks again.
func (q *queueCheck) get(ctx context.Context, c QueueChecker, maxAge time.Duration) (status.Status, *status.Queue, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.at.IsZero() && time.Since(q.at) < maxAge {
		return q.status, q.counts, q.err
	}
	st, counts, err := c.CheckQueue(ctx, q.name, q.nackHealthyBelow, q.nackDeadAbove)
	if ctx.Err() != nil {
		return st, nil, err // shutting down: nothing worth keeping
	}
	q.at, q.status, q.err, q.counts = time.Now(), st, err, nil
	if err == nil {
		q.counts = &counts
	}
	return q.status, q.counts, q.err
}
