package notify

import (
	"context"
	"log/slog"
	"time"
)

// DeliverRecordingWaits delivers m through ch as a channel's outbox does,
// retries included, but without waiting: it returns the waits the outbox
// asked for between attempts. For the tests of package notify_test.
func DeliverRecordingWaits(ch Channel, retry RetryPolicy, log *slog.Logger, m *Message) []time.Duration {
	o := newOutbox(ch, 1, 10*time.Second, retry.withDefaults(), log)
	var waits []time.Duration
	o.sleep = func(_ context.Context, d time.Duration) { waits = append(waits, d) }
	o.deliver(context.Background(), context.Background(), m)
	return waits
}
